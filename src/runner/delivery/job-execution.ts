import {
  failedResult,
  type Guarded,
  guardedCall,
  TaskResultSchema,
} from "../../agents/guarded-call.ts";
import type { ExecutorContext, TaskResult } from "../../agents/types.ts";
import type { Job } from "../../marketplace/schemas.ts";
import { scrub } from "../../secrets.ts";
import { isStaleEpoch } from "../../state/fence.ts";
import type { Ledger, LedgerResult } from "../../state/types.ts";
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
 */
export async function executeWonJob(
  agentId: string,
  job: Job,
  deps: JobExecutionDeps,
): Promise<void> {
  const { ledger, telemetry } = deps;
  const attempt = await ledger.startExecution(agentId, job.job_id, deps.epoch);
  let result: TaskResult;
  if (attempt > MAX_EXECUTIONS) {
    result = failedResult(
      `Execution of this job was interrupted ${attempt - 1} times; it is not attempted again.`,
    );
  } else {
    telemetry.executionStarted(job, attempt);
    const started = performance.now();
    const outcome = await guardedCall(
      (signal) => deps.execute(job, deps.context(job, signal)),
      TaskResultSchema,
      { limitMs: executionLimitMs(job), lifetime: deps.lifetime },
    );
    if (outcome.kind === "interrupted") {
      telemetry.executionInterrupted(job);
      return;
    }
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
  const costUsd = ((deps.llmPrices[record.model] ?? 0) * record.tokensUsed) / 1e6;
  telemetry.executionFinished(job, { ...record, latencyMs: result.latencyMs }, costUsd);
  await deps.recordSpend?.(costUsd).catch((error: unknown) => {
    telemetry.error(
      "could not count the execution's cost towards the spend caps",
      error,
      job.job_id,
    );
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
