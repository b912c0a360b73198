import {
  failedResult,
  type Guarded,
  guardedCall,
  TaskResultSchema,
} from "../../agents/guarded-call.ts";
import { type GateOutcome, runQualityGate } from "../../agents/quality/gate.ts";
import { DEFAULT_QUALITY_SETTINGS, type QualitySettings } from "../../agents/quality/types.ts";
import type { ExecutorContext, TaskResult } from "../../agents/types.ts";
import type { Job } from "../../marketplace/schemas.ts";
import { scrub } from "../../secrets.ts";
import { isStaleEpoch } from "../../state/fence.ts";
import type { Ledger, LedgerResult } from "../../state/types.ts";
import { paymentAtQuality } from "../policy/payment-rule.ts";
import type { AgentTelemetry } from "../telemetry/agent-telemetry.ts";
import type { Outbox } from "./outbox.ts";

/** A started execution that left no result is run again once; after that it fails. */
export const MAX_EXECUTIONS = 2;
/** The marketplace's default `deadline_minutes`. */
const DEFAULT_DEADLINE_MINUTES = 10;

export interface JobExecutionDeps {
  ledger: Ledger;
  /** Only its hand-off is needed: the outbox submits until the marketplace takes it. */
  outbox: Pick<Outbox, "submit">;
  telemetry: AgentTelemetry;
  /** USD per million tokens, by model. */
  llmPrices: Record<string, number>;
  /** The lease epoch the ledger writes carry (replicas only). */
  epoch?: number;
  /** Aborted when the worker is forced to stop: the execution is cut short. */
  lifetime: AbortSignal;
  /** The executor's executeTask, called under the guard with this job's context. */
  execute: (job: Job, context: ExecutorContext) => Promise<unknown>;
  /** Builds the executor's context for this job. */
  context: (job: Job, signal: AbortSignal) => ExecutorContext;
  /** Counts the execution's estimated LLM cost towards today's spend caps. */
  recordSpend?: (usd: number) => Promise<void>;
  /**
   * The quality gate before submission (agents/quality/gate.ts), with these settings
   * over DEFAULT_QUALITY_SETTINGS; absent: results go out as the executor made them.
   */
  quality?: Partial<QualitySettings>;
}

/** Reasons recorded per prediction, and characters per reason (they quote the job). */
const MAX_REASONS = 20;
const MAX_REASON_CHARS = 300;

/**
 * Runs the quality gate on an executor's successful result: undefined when there is
 * nothing to gate (a failure, a malformed result) or the gate itself failed (the result
 * then goes out unchecked: the gate never costs a delivery).
 */
async function gateResult(
  agentId: string,
  job: Job,
  raw: unknown,
  context: ExecutorContext,
  signal: AbortSignal,
  deps: JobExecutionDeps,
): Promise<GateOutcome | undefined> {
  const parsed = TaskResultSchema.safeParse(raw);
  if (!parsed.success || !parsed.data.success || !deps.quality) return undefined;
  try {
    // What the service pays on: our bid's price (else the budget).
    const agreedUsd =
      (await deps.ledger.get(agentId, job.job_id))?.bidPriceUsd ?? job.budget_usd ?? 0;
    const outcome = await runQualityGate({
      job,
      result: parsed.data,
      agentType: context.agent.agent_type,
      settings: { ...DEFAULT_QUALITY_SETTINGS, ...deps.quality },
      ...(context.llm ? { llm: context.llm } : {}),
      model: context.agent.model ?? context.defaultModel,
      payout: (quality) => paymentAtQuality(quality, agreedUsd),
      usdPerMillionTokens: (model) => deps.llmPrices[model] ?? 0,
      signal,
      onProblem: (what, problem) =>
        context.logger.warn(
          { jobId: job.job_id, problem },
          `the quality gate's ${what} call failed; the gate went on without it`,
        ),
    });
    context.logger.info(
      {
        jobId: job.job_id,
        predicted: outcome.decision.predicted,
        action: outcome.decision.action,
        finalPredicted: outcome.final.predicted,
        gateCostUsd: outcome.llmCostUsd,
      },
      "quality gate",
    );
    return outcome;
  } catch (error) {
    if (signal.aborted) throw error;
    deps.telemetry.error(
      "the quality gate failed; the result goes out unchecked",
      error,
      job.job_id,
    );
    return undefined;
  }
}

/** How long a job may run: its deadline (fractions of a minute honoured), at least 1 s. */
export function executionLimitMs(job: Job): number {
  const minutes = job.deadline_minutes > 0 ? job.deadline_minutes : DEFAULT_DEADLINE_MINUTES;
  return Math.max(1000, Math.ceil(minutes * 60_000));
}

/** The result to record for an execution that did not produce one itself. */
export function resultOfFailure(
  job: Job,
  outcome: Exclude<Guarded<TaskResult>, { kind: "ok" | "interrupted" }>,
): TaskResult {
  return failedResult(
    outcome.reason === "timeout"
      ? `The job's deadline of ${job.deadline_minutes} minutes passed before the work was done.`
      : outcome.reason === "malformed"
        ? `The executor returned a malformed result (${outcome.detail}).`
        : `The executor failed: ${outcome.detail}`,
  );
}

/**
 * Executes one won job: marks it started in the ledger, runs the executor under the
 * job's deadline, writes the result down and hands it to the outbox. A shutdown that
 * cuts it short leaves no result, so the next start runs it again (once). A failed
 * execution is never run again: its failure report goes to the outbox (at most
 * MAX_FAILURE_REPORTS attempts, since the service cannot record one) and the job is
 * left to its poster; the LLM cost is spent, and re-running could fail the same way.
 * With the quality gate on, a successful result is checked (and repaired once, or
 * noted) within the same deadline before it is written down; its prediction and the
 * job's LLM cost go to the ledger's outcome, where the sign-off's score joins them.
 */
export async function executeWonJob(
  agentId: string,
  job: Job,
  deps: JobExecutionDeps,
): Promise<void> {
  const { ledger, telemetry } = deps;
  const attempt = await ledger.startExecution(agentId, job.job_id, deps.epoch);
  let result: TaskResult;
  let gate: GateOutcome | undefined;
  if (attempt > MAX_EXECUTIONS) {
    result = failedResult(
      `Execution of this job was interrupted ${attempt - 1} times; it is not attempted again.`,
    );
  } else {
    telemetry.executionStarted(job, attempt);
    const started = performance.now();
    const outcome = await guardedCall(
      (signal) =>
        telemetry.inExecution(job, async () => {
          const context = deps.context(job, signal);
          const raw = await deps.execute(job, context);
          if (!deps.quality) return raw;
          gate = await telemetry.tracedGate(() =>
            gateResult(agentId, job, raw, context, signal, deps),
          );
          return gate?.result ?? raw;
        }),
      TaskResultSchema,
      { limitMs: executionLimitMs(job), lifetime: deps.lifetime },
    );
    if (outcome.kind === "interrupted") {
      telemetry.executionInterrupted(job);
      return;
    }
    // A gate whose result did not come back (the deadline passed) spent nothing recorded here.
    if (outcome.kind !== "ok") gate = undefined;
    result = outcome.kind === "ok" ? outcome.value : resultOfFailure(job, outcome);
    result.latencyMs ||= Math.round(performance.now() - started);
  }

  // Whatever the LLM or a plugin put in the result, a secret of ours never leaves: not
  // to the ledger, the status page, nor the customer.
  const record: LedgerResult = {
    success: result.success,
    output: scrub(result.output),
    tokensUsed: result.tokensUsed,
    model: result.model,
    ...(result.error !== undefined && result.error !== "" ? { error: scrub(result.error) } : {}),
  };
  // The executor's tokens at its model's price, and the gate's calls at theirs.
  const executorTokens = record.tokensUsed - (gate?.tokensUsed ?? 0);
  const costUsd =
    ((deps.llmPrices[record.model] ?? 0) * executorTokens) / 1e6 + (gate?.llmCostUsd ?? 0);
  telemetry.executionFinished(job, { ...record, latencyMs: result.latencyMs }, costUsd);
  await deps.recordSpend?.(costUsd).catch((error: unknown) => {
    telemetry.error(
      "could not count the execution's cost towards the spend caps",
      error,
      job.job_id,
    );
  });

  // What the job cost and what the gate expects of it, beside the sign-off to come.
  await ledger
    .noteOutcome(agentId, job.job_id, {
      llmCostUsd: costUsd,
      ...(gate
        ? {
            predictedQuality: gate.final.predicted,
            predictionReasons: [
              `${gate.decision.action} (predicted ${gate.decision.predicted.toFixed(2)} before delivery)`,
              ...gate.final.reasons,
            ]
              .slice(0, MAX_REASONS)
              .map((reason) => scrub(reason).slice(0, MAX_REASON_CHARS)),
          }
        : {}),
    })
    .catch((error: unknown) => {
      if (isStaleEpoch(error)) throw error;
      telemetry.error("could not record the job's outcome", error, job.job_id);
    });

  try {
    await ledger.recordResult(agentId, job.job_id, record, deps.epoch);
  } catch (error) {
    // Another replica holds the agent now: the job is its to run and submit.
    if (isStaleEpoch(error)) throw error;
    // The result could not be written down; submit it anyway rather than lose it.
    telemetry.error("ledger write failed; submitting the result unrecorded", error, job.job_id);
    await deps.outbox.submit({
      agentId,
      jobId: job.job_id,
      executionAttempts: attempt,
      submitAttempts: 0,
      result: record,
      updatedAt: new Date().toISOString(),
    });
    return;
  }
  const entry = await ledger.get(agentId, job.job_id);
  if (entry) await deps.outbox.submit(entry);
}
