import type { Span } from "@opentelemetry/api";
import type { AgentSpec } from "../../agent-configs/types.ts";
import type { GateOutcome } from "../../agents/quality/gate.ts";
import type { Logger } from "../../logger.ts";
import type { Job } from "../../marketplace/schemas.ts";
import { incWithTrace, type Metrics } from "../../metrics.ts";
import { errorMessage } from "../../secrets.ts";
import type { AgentTotals, LedgerResult } from "../../state/types.ts";
import { awardNoticedBy } from "../../tracing/award-notice.ts";
import {
  endJobTrace,
  failSpan,
  inChildSpan,
  inJobSpan,
  inSpan,
  jobTraceId,
  recordJobStep,
  startJobSpan,
} from "../../tracing/tracing.ts";
import type { AgentWallet } from "../../wallet/agent-wallets.ts";
import type { BidDecision, PlaceDecision } from "../policy/bid-decision.ts";
import type { OfferAnswerDecision } from "../policy/offer-policy.ts";
import { priceReason } from "../policy/price-learning.ts";
import type { DecisionLog } from "./decision-log.ts";
import { AgentStats, type StatusTracker } from "./status-tracker.ts";
import type { SkipReason, WorkerState } from "./status-types.ts";

export interface TelemetryDeps {
  tracker: StatusTracker;
  logger: Logger;
  metrics?: Metrics;
  decisions?: DecisionLog;
  defaultModel: string;
}

/** Jobs whose trace is open here (posting time, execution span): the oldest are forgotten past this. */
const MAX_TRACED_JOBS = 10_000;

/** The same failure again within this window is logged at debug: the log says it once. */
const REPEAT_WINDOW_MS = 60_000;

/** The `outcome` label of bazaar_runner_bids_total for each skip reason. */
const SKIP_OUTCOME: Record<SkipReason, string> = {
  budget_missing: "skipped_budget",
  capability: "skipped_capability",
  already_bid: "skipped_already_bid",
  no_keyword: "declined",
  declined: "declined",
  below_floor: "skipped_below_floor",
  spend_cap: "skipped_spend_cap",
  capacity_ranked_out: "skipped_capacity",
  evaluation_failed: "evaluation_failed",
  bid_refused: "refused",
  bid_failed: "failed",
  not_our_bid: "assignment_refused",
  too_large: "skipped_too_large",
};

/**
 * Everything one agent tells its operator. Each event is one method, and the method
 * writes it everywhere it must appear: the stats view behind /api/status, metrics, the
 * timeline, the decision log and the log. Nothing else writes an agent's stats.
 */
export class AgentTelemetry {
  readonly stats: AgentStats;
  readonly #deps: TelemetryDeps;
  #spec: AgentSpec;
  #log: Logger;
  #lastErrorLine = "";
  /** The last agent id said to be deleted (agentDeleted). */
  #deletedSaid: string | undefined;
  #lastErrorAt = 0;
  /**
   * Tracing (on only): when each open job was posted (its root span's start), and the
   * execution spans running. Spans themselves live in src/tracing; these are the hub's.
   */
  readonly #postedAt = new Map<string, Date>();
  readonly #executions = new Map<string, Span>();

  constructor(spec: AgentSpec, maxConcurrentJobs: number, deps: TelemetryDeps) {
    this.#deps = deps;
    this.#spec = spec;
    this.#log = deps.logger.child({
      agentName: spec.config.name,
      agentType: spec.config.agent_type,
    });
    this.stats = new AgentStats({
      key: spec.key,
      name: spec.config.name,
      agentType: spec.config.agent_type,
      source: spec.source,
      model: spec.config.model ?? deps.defaultModel,
      baseRateUsd: spec.config.base_rate_usd,
      maxConcurrentJobs,
    });
    deps.tracker.add(this.stats);
  }

  /** The agent's logger (its name and type on every line). */
  get log(): Logger {
    return this.#log;
  }

  get #name(): string {
    return this.#spec.config.name;
  }

  get #agentLabel(): string {
    return this.stats.view.agentId ?? this.#spec.key;
  }

  #emit(event: Parameters<StatusTracker["emit"]>[0]): void {
    this.#deps.tracker.emit(event);
  }

  // Lifecycle

  stateChanged(state: WorkerState): void {
    this.stats.view.state = state;
  }

  registered(agentId: string, walletAddress: string): void {
    this.#log.info({ agentId, wallet: walletAddress }, "agent registered");
    this.#emit({ kind: "registered", agent: this.#name, message: `registered as ${agentId}` });
  }

  reregistered(lostAgentId: string, agentId: string): void {
    this.stats.view.agentId = agentId;
    this.#log.warn(
      { lostAgentId, agentId },
      "marketplace no longer knew the agent; registered it again",
    );
  }

  /**
   * Starts the agent's figures from what the ledger has on record, so a restart keeps
   * the totals and the cards agree with the ledger panel.
   */
  restoreTotals(totals: AgentTotals): void {
    const view = this.stats.view;
    view.bidsPlaced = totals.bids;
    view.bidsWon = totals.won;
    view.resultsAccepted = totals.succeeded;
    view.resultsFailed = totals.failed;
    view.earnings.bidUsd = totals.bidUsd;
    view.earnings.wonUsd = totals.wonUsd;
  }

  started(agentId: string): void {
    this.stats.view.agentId = agentId;
    this.#log.info({ agentId }, "agent running");
    this.#emit({
      kind: "agent-started",
      agent: this.#name,
      message: `${this.#name} is running as ${agentId}`,
    });
  }

  configUpdated(spec: AgentSpec, maxConcurrentJobs: number): void {
    this.#spec = spec;
    this.#log = this.#deps.logger.child({
      agentName: spec.config.name,
      agentType: spec.config.agent_type,
    });
    Object.assign(this.stats.view, {
      name: spec.config.name,
      agentType: spec.config.agent_type,
      model: spec.config.model ?? this.#deps.defaultModel,
      baseRateUsd: spec.config.base_rate_usd,
      maxConcurrentJobs,
    });
    this.#log.info("agent config updated");
    this.#emit({ kind: "config", agent: spec.config.name, message: "config updated" });
  }

  /** This replica no longer holds the agent's lease: it stopped at once. */
  leaseLost(reason: string): void {
    this.#log.warn({ reason }, "agent lease lost; another replica runs it now");
    this.#emit({ kind: "agent-stopped", agent: this.#name, message: `lease lost: ${reason}` });
  }

  /** Without leases: someone else heartbeated this agent within the last interval. */
  foreignHeartbeat(lastActive: string): void {
    this.#log.warn(
      { agentId: this.stats.view.agentId, lastActive },
      "the agent was heartbeated within the last interval by someone else: another runner may be running it",
    );
  }

  drainWaiting(jobs: number, graceMs: number): void {
    this.#log.info({ jobs, graceMs }, "waiting for in-flight jobs");
  }

  drainCutShort(jobs: number): void {
    this.#log.warn({ jobs }, "grace period over; cutting in-flight jobs short");
  }

  stopped(): void {
    this.#emit({ kind: "agent-stopped", agent: this.#name, message: `${this.#name} stopped` });
  }

  // Heartbeats

  heartbeatSent(status: string): void {
    this.stats.view.lastHeartbeatAt = new Date().toISOString();
    this.stats.view.lastHeartbeatOutcome = status;
    this.#deps.metrics?.heartbeats.inc({ agent: this.#agentLabel, outcome: "ok" });
  }

  heartbeatFailed(error: unknown): void {
    this.stats.view.lastHeartbeatOutcome = `error: ${errorMessage(error)}`;
    this.#deps.metrics?.heartbeats.inc({ agent: this.#agentLabel, outcome: "error" });
    this.error("heartbeat failed", error);
  }

  // Bidding

  /** A job considered for the first time. */
  jobSeen(): void {
    this.stats.view.jobsSeen++;
    this.#deps.metrics?.jobsSeen.inc({ agent: this.#agentLabel });
  }

  /** A final decision on a job: a bid placed, or a skip with its reason. */
  decided(job: Job, decision: BidDecision): void {
    const agentId = this.stats.view.agentId;
    const at = new Date().toISOString();
    const traceId = jobTraceId(agentId, job.job_id);
    if (decision.kind === "bid") {
      this.#deps.metrics?.bids.inc({ agent: this.#agentLabel, outcome: "placed" });
      this.#deps.decisions?.record(this.#spec.key, {
        at,
        jobId: job.job_id,
        agent: this.#name,
        agentId,
        outcome: "bid",
        reason: null,
        detail: `bid $${decision.priceUsd} with confidence ${decision.confidence}${priceReason(decision)}`,
        priceUsd: decision.priceUsd,
        confidence: decision.confidence,
        ...(traceId ? { traceId } : {}),
      });
      return;
    }
    // A skip ends the job's story for this agent (its root span goes out), except
    // `already_bid`: a bid of ours stands (placed before a restart, or by another
    // replica), and the award may still come.
    recordJobStep(agentId, job.job_id, "bazaar.decision", {
      "bazaar.decision.outcome": "skip",
      "bazaar.decision.reason": decision.reason,
      "bazaar.decision.detail": decision.detail.slice(0, 300),
    });
    if (decision.reason !== "already_bid") this.#endTrace(job.job_id, "skipped", job);
    this.#deps.metrics?.bids.inc({
      agent: this.#agentLabel,
      outcome: SKIP_OUTCOME[decision.reason],
    });
    this.#deps.decisions?.record(this.#spec.key, {
      at,
      jobId: job.job_id,
      agent: this.#name,
      agentId,
      outcome: "skip",
      reason: decision.reason,
      detail: decision.detail,
      ...(traceId ? { traceId } : {}),
    });
  }

  /**
   * Sends a bid (`send`, the marketplace call) inside the job's trace: the decision to
   * bid, with its price, then the bid request, whose HTTP call is a client span beneath it.
   * With tracing off this is `send()`.
   */
  tracedBid<T>(job: Job, decision: PlaceDecision, send: () => Promise<T>): Promise<T> {
    const agentId = this.stats.view.agentId;
    this.#remember(job);
    recordJobStep(agentId, job.job_id, "bazaar.decision", {
      "bazaar.decision.outcome": "bid",
      "bazaar.decision.reason": "bid",
      "bazaar.bid.price_usd": decision.priceUsd,
      "bazaar.bid.confidence": decision.confidence,
      "bazaar.bid.estimated_minutes": decision.estimatedTimeMinutes,
      ...(typeof job.budget_usd === "number" ? { "bazaar.job.budget_usd": job.budget_usd } : {}),
    });
    return inJobSpan(
      agentId,
      job.job_id,
      "bazaar.bid",
      { "bazaar.bid.price_usd": decision.priceUsd },
      () => send(),
    );
  }

  bidPlaced(job: Job, bidId: string, decision: Extract<BidDecision, { kind: "bid" }>): void {
    this.#bidCounted(decision.priceUsd);
    this.decided(job, decision);
    this.#log.info(
      {
        agentId: this.stats.view.agentId,
        jobId: job.job_id,
        bidId,
        priceUsd: decision.priceUsd,
        confidence: decision.confidence,
      },
      "bid placed",
    );
    this.#emit({
      kind: "bid",
      agent: this.#name,
      jobId: job.job_id,
      message: `bid $${decision.priceUsd} (confidence ${decision.confidence})`,
      amountUsd: decision.priceUsd,
    });
  }

  /** A bid of this agent the ledger did not know, found in the marketplace's bid list. */
  bidFound(job: Job, priceUsd: number): void {
    this.#bidCounted(priceUsd);
    this.#log.info({ jobId: job.job_id }, "bid of this agent found on the marketplace");
  }

  #bidCounted(priceUsd: number): void {
    this.stats.view.bidsPlaced++;
    this.stats.view.earnings.bidUsd += priceUsd;
    this.#deps.metrics?.earningsUsd.inc({ agent: this.#agentLabel, stage: "bid" }, priceUsd);
  }

  /** A bid or decision attempt that failed and will be tried again at the next poll. */
  bidAttemptFailed(): void {
    this.#deps.metrics?.bids.inc({ agent: this.#agentLabel, outcome: "error" });
  }

  // Executions and results

  jobWon(job: Job, priceUsd: number): void {
    this.stats.view.bidsWon++;
    this.stats.view.earnings.wonUsd += priceUsd;
    const agentId = this.stats.view.agentId;
    this.#remember(job);
    recordJobStep(agentId, job.job_id, "bazaar.award", {
      "bazaar.award.noticed_by": awardNoticedBy(job.job_id),
      "bazaar.award.price_usd": priceUsd,
    });
    if (this.#deps.metrics)
      incWithTrace(
        this.#deps.metrics.earningsUsd,
        { agent: this.#agentLabel, stage: "won" },
        priceUsd,
        jobTraceId(agentId, job.job_id),
      );
    this.#log.info({ agentId: this.stats.view.agentId, jobId: job.job_id }, "job won");
    this.#emit({
      kind: "won",
      agent: this.#name,
      jobId: job.job_id,
      message: `won "${job.title.slice(0, 80)}"`,
      amountUsd: priceUsd,
    });
  }

  /**
   * A job assigned to this agent that it will not execute (a bid it did not place, a
   * price below its floor): said once per job, in the log, the metric, the decision log
   * and the timeline. The job is left to its poster.
   */
  assignmentRefused(job: Job, reason: "not_our_bid" | "below_floor", detail: string): void {
    const agentId = this.stats.view.agentId;
    this.#deps.metrics?.assignmentsRefused.inc({ agent: this.#agentLabel, reason });
    recordJobStep(
      agentId,
      job.job_id,
      "bazaar.award",
      {
        "bazaar.award.noticed_by": awardNoticedBy(job.job_id),
        "bazaar.award.refused": reason,
      },
      { error: `assignment refused: ${reason}` },
    );
    this.#endTrace(job.job_id, "assignment_refused", job);
    this.#log.warn(
      { agentId, jobId: job.job_id, reason, detail },
      "assigned a job this agent will not execute; left to its poster",
    );
    this.#deps.decisions?.record(this.#spec.key, {
      at: new Date().toISOString(),
      jobId: job.job_id,
      agent: this.#name,
      agentId,
      outcome: "skip",
      reason,
      detail,
    });
    this.#emit({
      kind: "error",
      agent: this.#name,
      jobId: job.job_id,
      message: `assignment not executed (${reason}): ${detail}`,
    });
  }

  inFlight(count: number): void {
    this.stats.view.jobsInFlight = count;
  }

  executionStarted(job: Job, attempt: number): void {
    this.#jobLog(job).info({ attempt, deadlineMinutes: job.deadline_minutes }, "execution started");
    this.#remember(job);
    const span = startJobSpan(this.stats.view.agentId, job.job_id, "bazaar.execution", {
      "bazaar.execution.attempt": attempt,
      "bazaar.execution.deadline_minutes": job.deadline_minutes,
      ...(typeof job.budget_usd === "number" ? { "bazaar.job.budget_usd": job.budget_usd } : {}),
    });
    if (span) this.#executions.set(job.job_id, span);
  }

  /**
   * Runs the executor inside the job's execution span, so that its tools' runs and LLM
   * calls (the AI SDK's GenAI spans) are its children. With tracing off this is `work()`.
   */
  inExecution<T>(job: Job, work: () => T): T {
    return inSpan(this.#executions.get(job.job_id), work);
  }

  /**
   * The quality gate's run on a result (inside the execution, whose span is its parent):
   * what it predicted, what it did, and its own LLM cost. With tracing off this is `gate()`.
   */
  tracedGate(gate: () => Promise<GateOutcome | undefined>): Promise<GateOutcome | undefined> {
    return inChildSpan("bazaar.quality_gate", {}, gate, (outcome) =>
      outcome
        ? {
            "bazaar.quality.predicted": outcome.decision.predicted,
            "bazaar.quality.action": outcome.decision.action,
            "bazaar.quality.final_predicted": outcome.final.predicted,
            "bazaar.llm.cost_usd": outcome.llmCostUsd,
          }
        : { "bazaar.quality.action": "not_gated" },
    );
  }

  executionInterrupted(job: Job): void {
    this.#jobLog(job).warn("execution interrupted by shutdown; it resumes after restart");
    this.#deps.metrics?.executions.inc({ agent: this.#agentLabel, outcome: "interrupted" });
    const span = this.#executions.get(job.job_id);
    if (span) {
      this.#executions.delete(job.job_id);
      failSpan(span, "interrupted by shutdown; it resumes after restart");
      span.end();
    }
  }

  executionFinished(job: Job, result: LedgerResult & { latencyMs: number }, costUsd: number): void {
    const view = this.stats.view;
    if (this.#deps.metrics)
      incWithTrace(
        this.#deps.metrics.executions,
        { agent: this.#agentLabel, outcome: result.success ? "success" : "failed" },
        1,
        jobTraceId(view.agentId, job.job_id),
      );
    const span = this.#executions.get(job.job_id);
    if (span) {
      this.#executions.delete(job.job_id);
      span.setAttributes({
        "bazaar.execution.success": result.success,
        "bazaar.execution.tokens": result.tokensUsed,
        "bazaar.execution.latency_ms": result.latencyMs,
        "bazaar.llm.cost_usd": costUsd,
        "gen_ai.request.model": result.model,
      });
      if (!result.success) failSpan(span, result.error ?? "the execution failed");
      span.end();
    }
    view.tokensUsed += result.tokensUsed;
    view.llmCostUsd += costUsd;
    if (!result.success) view.lastError = result.error ?? result.output.slice(0, 300);
    this.#jobLog(job).info(
      {
        success: result.success,
        tokens: result.tokensUsed,
        model: result.model,
        latencyMs: result.latencyMs,
      },
      "execution finished",
    );
    this.#emit({
      kind: "execution",
      agent: this.#name,
      jobId: job.job_id,
      message: result.success
        ? `done in ${(result.latencyMs / 1000).toFixed(1)} s, ${result.tokensUsed} tokens`
        : `failed: ${(result.error ?? result.output).slice(0, 200)}`,
      tokens: result.tokensUsed,
      costUsd,
    });
  }

  /** The marketplace took a result of this agent (a successful one, or a failure report). */
  resultAccepted(jobId: string, success: boolean): void {
    if (success) this.stats.view.resultsAccepted++;
    else this.stats.view.resultsFailed++;
    // A failure report ends the job here; a result's story ends with its payment.
    if (!success) this.#endTrace(jobId, "failed");
    this.#emit({
      kind: "result",
      agent: this.#name,
      jobId,
      message: success ? "result accepted" : "failed result submitted",
    });
  }

  /** The marketplace will never take this result (the job is no longer ours). */
  resultRefused(jobId: string, reason: string): void {
    this.stats.view.resultsFailed++;
    this.#endTrace(jobId, "result_refused");
    this.#emit({
      kind: "error",
      agent: this.#name,
      jobId,
      message: `result refused: ${reason}`,
    });
  }

  // Money

  walletResolved(wallet: AgentWallet): void {
    this.stats.view.wallet = { address: wallet.address, holdsKey: wallet.holdsKey };
    this.#log.info(
      {
        wallet: wallet.address,
        holdsKey: wallet.holdsKey,
        origin: wallet.origin,
        index: wallet.index,
      },
      wallet.holdsKey
        ? "agent wallet: the runner holds its key"
        : "agent wallet is payout-only: paid there, but the runner cannot sign for it (no sign-in, no negotiation)",
    );
  }

  /** An agent registered earlier with the keyless derived address now runs under its real wallet. */
  migrated(oldAgentId: string, agentId: string, wallet: string): void {
    const message = `${this.#name} re-registered with its real wallet ${wallet}: ${oldAgentId} → ${agentId} (the old agent, whose keyless address could not be paid, is now offline)`;
    this.#log.warn({ oldAgentId, agentId, wallet }, message);
    this.#emit({ kind: "wallet", agent: this.#name, message });
  }

  /** Daily spend cap state; said on the timeline when it changes. */
  spendCap(reached: string | null): void {
    const now = reached !== null;
    this.#deps.metrics?.spendCapReached.set({ agent: this.#agentLabel }, now ? 1 : 0);
    if (this.stats.view.spendCapReached === now) return;
    this.stats.view.spendCapReached = now;
    const message = now ? `spend cap reached: ${reached}` : "spend cap cleared: bidding again";
    this.#log[now ? "warn" : "info"](message);
    this.#emit({ kind: "config", agent: this.#name, message });
  }

  negotiated(
    job: Job,
    bidId: string,
    answer: Exclude<OfferAnswerDecision, { action: "none" }>,
  ): void {
    this.#deps.metrics?.negotiations.inc({ agent: this.#agentLabel, action: answer.action });
    const price = answer.action === "lapse" ? undefined : answer.priceUsd;
    recordJobStep(this.stats.view.agentId, job.job_id, "bazaar.negotiation", {
      "bazaar.negotiation.action": answer.action,
      "bazaar.bid.id": bidId,
      ...(price !== undefined ? { "bazaar.negotiation.price_usd": price } : {}),
      ...(answer.reason ? { "bazaar.negotiation.reason": answer.reason.slice(0, 300) } : {}),
    });
    const message =
      answer.action === "accept"
        ? `accepted the counter-offer of $${price}`
        : answer.action === "counter"
          ? `countered at $${price}`
          : `let the counter-offer lapse: ${answer.reason}`;
    this.#log.info(
      { jobId: job.job_id, bidId, action: answer.action, priceUsd: price, reason: answer.reason },
      "counter-offer answered",
    );
    this.#emit({
      kind: "negotiation",
      agent: this.#name,
      jobId: job.job_id,
      message,
      ...(price !== undefined ? { amountUsd: price } : {}),
    });
  }

  /**
   * What a job's sign-off paid this agent: the escrow released (`released` whole,
   * `partial` half) and the agent's `total_earned_usd` grown by it, or nothing
   * (`refunded`, `unpaid`). See payment-reader.ts.
   */
  paid(jobId: string, amountUsd: number, qualityScore: number | null, outcome: string): void {
    this.stats.view.earnings.paidUsd += amountUsd;
    const agentId = this.stats.view.agentId;
    if (this.#deps.metrics)
      incWithTrace(
        this.#deps.metrics.earningsUsd,
        { agent: this.#agentLabel, stage: "paid" },
        amountUsd,
        jobTraceId(agentId, jobId),
      );
    recordJobStep(agentId, jobId, "bazaar.payment", {
      "bazaar.payment.amount_usd": amountUsd,
      "bazaar.payment.outcome": outcome,
      ...(qualityScore !== null ? { "bazaar.payment.quality_score": qualityScore } : {}),
    });
    this.#endTrace(jobId, outcome);
    const message = `paid $${amountUsd} (${outcome}, quality ${qualityScore ?? "-"})`;
    this.#log.info({ jobId, amountUsd, qualityScore, outcome }, "payment read back");
    this.#emit({ kind: "payment", agent: this.#name, jobId, message, amountUsd });
  }

  /** The payments on record in the ledger: where "paid" starts after a restart. */
  restorePaid(paidUsd: number): void {
    this.stats.view.earnings.paidUsd = paidUsd;
  }

  /**
   * Fields of the agent's marketplace document somebody else changed (a re-registration
   * with its wallet, an unsigned PUT) or the agent deleted: said once per change, counted
   * per field; the runner puts them back.
   */
  agentTampered(fields: readonly string[], found: Record<string, unknown>): void {
    for (const field of fields)
      this.#deps.metrics?.agentTampered.inc({ agent: this.#agentLabel, field });
    const message = `the agent was changed behind the runner's back (${fields.join(", ")}); putting it back`;
    this.#log.warn({ agentId: this.stats.view.agentId, fields, found }, message);
    this.#emit({ kind: "error", agent: this.#name, message });
  }

  /**
   * The marketplace no longer knows the agent (a heartbeat's or the guard's 404): somebody
   * deleted it, or the service lost its database. Said once per agent id.
   */
  agentDeleted(agentId: string): void {
    if (this.#deletedSaid === agentId) return;
    this.#deletedSaid = agentId;
    this.agentTampered(["deleted"], { agent_id: agentId });
  }

  /** The tampered fields are as the runner set them again. */
  agentRestored(fields: readonly string[], how: string): void {
    this.#log.info({ agentId: this.stats.view.agentId, fields, how }, "agent document put back");
  }

  /** A configuration error found at run time (e.g. a 403 from the ownership rule): logged as an error, not retried. */
  configurationError(message: string): void {
    this.stats.view.errors++;
    this.stats.view.lastError = `configuration error: ${message}`;
    this.#log.error(
      { agentId: this.stats.view.agentId ?? undefined },
      `configuration error: ${message}`,
    );
    this.#emit({ kind: "error", agent: this.#name, message: `configuration error: ${message}` });
  }

  // Errors

  /**
   * A failure: counted, shown, and logged once. The same failure again within a minute
   * (an outage seen at every poll) is logged at debug; metrics and the dashboard still
   * count each.
   */
  error(what: string, error: unknown, jobId?: string): void {
    const problem = errorMessage(error);
    const line = `${what}: ${problem}`;
    const now = Date.now();
    const repeated = this.#lastErrorLine === line && now - this.#lastErrorAt < REPEAT_WINDOW_MS;
    this.#lastErrorLine = line;
    this.#lastErrorAt = now;
    this.stats.view.errors++;
    this.stats.view.lastError = line;
    this.#log[repeated ? "debug" : "warn"](
      { agentId: this.stats.view.agentId ?? undefined, jobId, problem },
      what,
    );
    this.#emit({ kind: "error", agent: this.#name, jobId, message: line });
  }

  /** A warning that is not an error of the agent (e.g. a config write-back that failed). */
  warn(what: string, error: unknown): void {
    this.#log.warn({ problem: errorMessage(error) }, what);
  }

  #jobLog(job: Job): Logger {
    const agentId = this.stats.view.agentId;
    const traceId = jobTraceId(agentId, job.job_id);
    return this.#log.child({ agentId, jobId: job.job_id, ...(traceId ? { traceId } : {}) });
  }

  /** When the job was posted: the start of its root span (tracing on only). */
  #remember(job: Job): void {
    if (!jobTraceId(this.stats.view.agentId, job.job_id) || this.#postedAt.has(job.job_id)) return;
    if (this.#postedAt.size >= MAX_TRACED_JOBS) this.#postedAt.clear();
    const posted = job.created_at ? new Date(job.created_at) : undefined;
    this.#postedAt.set(job.job_id, posted && !Number.isNaN(posted.getTime()) ? posted : new Date());
  }

  /** The job's story is over on this side: its root span, from posting to now. */
  #endTrace(jobId: string, outcome: string, job?: Job): void {
    const agentId = this.stats.view.agentId;
    if (!jobTraceId(agentId, jobId)) return;
    if (job) this.#remember(job);
    const postedAt = this.#postedAt.get(jobId);
    this.#postedAt.delete(jobId);
    endJobTrace(
      agentId,
      jobId,
      {
        "bazaar.agent.name": this.#name,
        "bazaar.job.outcome": outcome,
        ...(job?.title ? { "bazaar.job.title": job.title.slice(0, 120) } : {}),
      },
      postedAt,
    );
  }

  /** Stops showing this agent (its worker is gone). */
  remove(): void {
    this.#deps.tracker.remove(this.#spec.key);
  }
}
