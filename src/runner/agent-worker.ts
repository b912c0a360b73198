import type { BaseAgentExecutor } from "../agents/base-executor.ts";
import { createExecutor } from "../agents/registry.ts";
import type { ExecutorContext, TaskResult } from "../agents/types.ts";
import type { AgentSpec } from "../config-sources/types.ts";
import type { LlmClient } from "../llm/types.ts";
import type { Logger } from "../logger.ts";
import type { MarketplaceClient } from "../marketplace/client.ts";
import { isMarketplaceError } from "../marketplace/errors.ts";
import type { Job } from "../marketplace/schemas.ts";
import type { Metrics } from "../metrics.ts";
import { backoffDelay, sleep } from "../retry.ts";
import { errorMessage, scrub } from "../secrets.ts";
import type { Ledger, LedgerResult } from "../state/types.ts";
import { EvaluationSchema, failedResult, guardedCall, TaskResultSchema } from "./guarded-call.ts";
import type { JobFeed } from "./job-feed.ts";
import type { Outbox } from "./outbox.ts";
import type { Registrar, Registration } from "./registrar.ts";
import { AgentStats, type StatusTracker } from "./status-tracker.ts";
import type { WorkerState } from "./status-types.ts";

export interface WorkerDeps {
  client: MarketplaceClient;
  llm: LlmClient;
  ledger: Ledger;
  registrar: Registrar;
  outbox: Outbox;
  tracker: StatusTracker;
  logger: Logger;
  metrics?: Metrics;
  heartbeatIntervalMs: number;
  /**
   * The runner's poll interval: the longest one poll waits for this agent's bid
   * decisions.
   */
  pollIntervalMs: number;
  /** Longest an executor's evaluateJob may take before the job is given up on (default 60 s). */
  evaluationTimeoutMs?: number;
  defaultModel: string;
  /** USD per million tokens, by model. */
  llmPrices: Record<string, number>;
  /** Called once after the runner registered an agent that had no agent_id. */
  onRegistered?: (spec: AgentSpec, registration: Registration) => Promise<void>;
}

const DEFAULT_MAX_CONCURRENT = 2;
/** Bid attempts per job whose outcome was unknown (5xx, timeouts) before giving up on it. */
const MAX_BID_ATTEMPTS = 3;
/** A started execution that left no result is run again once; after that it fails. */
const MAX_EXECUTIONS = 2;
const DEFAULT_EVALUATION_TIMEOUT_MS = 60_000;
/** The marketplace's default `deadline_minutes`. */
const DEFAULT_DEADLINE_MINUTES = 10;

interface Running {
  promise: Promise<void>;
}

/**
 * One agent: its registration, heartbeat timer, bid decisions, in-flight jobs and
 * their concurrency limit. Every failure is contained here: logged, counted, and the
 * next poll goes on.
 */
export class AgentWorker {
  readonly key: string;
  #spec: AgentSpec;
  #executor: BaseAgentExecutor;
  readonly #deps: WorkerDeps;
  readonly #stats: AgentStats;
  readonly #log: Logger;
  #agentId: string | undefined;
  #state: WorkerState = "registering";
  readonly #inFlight = new Map<string, Running>();
  /** Jobs already decided (bid, declined, or given up on) under the current config. */
  readonly #decided = new Set<string>();
  readonly #bidAttempts = new Map<string, number>();
  #heartbeatTimer: NodeJS.Timeout | undefined;
  /** Aborted when the worker is forced to stop: registration and executions end. */
  readonly #lifetime = new AbortController();
  #started: Promise<void> | undefined;
  /** Cuts short the backoff of a registration that failed for want of the marketplace. */
  #registrationWake: AbortController | undefined;
  /** The round of bid decisions under way, if any. */
  #round: Promise<void> | undefined;
  #lastErrorLine = "";
  /** True when this runner registered the agent (no agent_id in its config). */
  #selfRegistered = false;
  #reregistering = false;
  #lastErrorAt = 0;

  constructor(spec: AgentSpec, deps: WorkerDeps) {
    this.key = spec.key;
    this.#spec = spec;
    this.#deps = deps;
    this.#executor = createExecutor(spec.config);
    this.#agentId = spec.config.agent_id;
    this.#log = deps.logger.child({
      agentName: spec.config.name,
      agentType: spec.config.agent_type,
    });
    this.#stats = new AgentStats({
      key: spec.key,
      name: spec.config.name,
      agentType: spec.config.agent_type,
      source: spec.source,
      model: spec.config.model ?? deps.defaultModel,
      baseRateUsd: spec.config.base_rate_usd,
      maxConcurrentJobs: this.#maxConcurrent,
    });
    deps.tracker.add(this.#stats);
  }

  get spec(): AgentSpec {
    return this.#spec;
  }
  get agentId(): string | undefined {
    return this.#agentId;
  }
  get state(): WorkerState {
    return this.#state;
  }
  get stats(): AgentStats {
    return this.#stats;
  }
  get inFlightCount(): number {
    return this.#inFlight.size;
  }
  get #maxConcurrent(): number {
    return this.#spec.config.max_concurrent_jobs ?? DEFAULT_MAX_CONCURRENT;
  }
  get #accepting(): boolean {
    return this.#state === "running";
  }

  /** Registers if needed, then heartbeats. Resolves once running (or stopped first). */
  start(): Promise<void> {
    this.#started ??= this.#start();
    return this.#started;
  }

  async #start(): Promise<void> {
    if (!this.#agentId) {
      const registration = await this.#registerUntilDone();
      if (!registration) return;
      this.#agentId = registration.agentId;
      this.#selfRegistered = true;
      await this.#deps.onRegistered?.(this.#spec, registration).catch((error: unknown) => {
        this.#log.warn(
          { problem: errorMessage(error) },
          "could not write the agent_id back to the config source",
        );
      });
    }
    if (this.#lifetime.signal.aborted || this.#state !== "registering") return;
    this.#stats.view.agentId = this.#agentId!;
    this.#setState("running");
    this.#log.info({ agentId: this.#agentId }, "agent running");
    this.#deps.tracker.emit({
      kind: "agent-started",
      agent: this.#spec.config.name,
      message: `${this.#spec.config.name} is running as ${this.#agentId}`,
    });
    void this.heartbeat();
    this.#heartbeatTimer = setInterval(() => void this.heartbeat(), this.#deps.heartbeatIntervalMs);
    this.#heartbeatTimer.unref();
  }

  async #registerUntilDone(): Promise<Registration | undefined> {
    for (let attempt = 1; !this.#lifetime.signal.aborted; attempt++) {
      try {
        const registration = await this.#deps.registrar.register(
          this.#spec.config,
          this.#lifetime.signal,
        );
        this.#log.info(
          { agentId: registration.agentId, wallet: registration.walletAddress },
          "agent registered",
        );
        this.#deps.tracker.emit({
          kind: "registered",
          agent: this.#spec.config.name,
          message: `registered as ${registration.agentId}`,
        });
        return registration;
      } catch (error) {
        if (this.#lifetime.signal.aborted) return undefined;
        this.#recordError("registration failed", error);
        // A refused registration (4xx) waits out its backoff; one that failed because
        // the marketplace was away is retried as soon as a poll reaches it again.
        const refused = isMarketplaceError(error) && error.isClientError;
        const wake = new AbortController();
        if (!refused) this.#registrationWake = wake;
        await sleep(
          backoffDelay(attempt, { baseMs: 1000, capMs: 60_000 }),
          AbortSignal.any([this.#lifetime.signal, wake.signal]),
        ).catch(() => undefined);
        this.#registrationWake = undefined;
      }
    }
    return undefined;
  }

  /** Applies a changed config in place: rates and keywords at the next evaluation, model and prompt at the next execution. */
  update(spec: AgentSpec): void {
    const typeChanged = spec.config.agent_type !== this.#spec.config.agent_type;
    this.#spec = spec;
    if (typeChanged) this.#executor = createExecutor(spec.config);
    if (spec.config.agent_id && !this.#agentId) this.#agentId = spec.config.agent_id;
    this.#decided.clear();
    Object.assign(this.#stats.view, {
      name: spec.config.name,
      agentType: spec.config.agent_type,
      model: spec.config.model ?? this.#deps.defaultModel,
      baseRateUsd: spec.config.base_rate_usd,
      maxConcurrentJobs: this.#maxConcurrent,
    });
    this.#log.info("agent config updated");
    this.#deps.tracker.emit({ kind: "config", agent: spec.config.name, message: "config updated" });
  }

  async heartbeat(status?: "offline"): Promise<void> {
    const agentId = this.#agentId;
    if (!agentId) return;
    const busy = this.#inFlight.size >= this.#maxConcurrent;
    const body = {
      status: status ?? (busy ? ("busy" as const) : ("available" as const)),
      current_capacity: Math.max(0, this.#maxConcurrent - this.#inFlight.size),
      metadata: {
        runner: "bazaar-runner",
        agent_type: this.#spec.config.agent_type,
        jobs_in_flight: this.#inFlight.size,
      },
    };
    try {
      await this.#deps.client.heartbeat(agentId, body);
      this.#stats.view.lastHeartbeatAt = new Date().toISOString();
      this.#stats.view.lastHeartbeatOutcome = body.status;
      this.#deps.metrics?.heartbeats.inc({ agent: agentId, outcome: "ok" });
    } catch (error) {
      this.#stats.view.lastHeartbeatOutcome = `error: ${errorMessage(error)}`;
      this.#deps.metrics?.heartbeats.inc({ agent: agentId, outcome: "error" });
      this.#recordError("heartbeat failed", error);
      if (isMarketplaceError(error, 404) && status !== "offline") await this.#reregister(agentId);
    }
  }

  /**
   * The marketplace no longer knows an agent this runner registered (its database was
   * reset): register it again. Wallet idempotency gives back the same agent where it can.
   */
  async #reregister(lostId: string): Promise<void> {
    if (!this.#selfRegistered || this.#reregistering || this.#state !== "running") return;
    this.#reregistering = true;
    try {
      const registration = await this.#deps.registrar.register(
        this.#spec.config,
        this.#lifetime.signal,
      );
      this.#agentId = registration.agentId;
      this.#stats.view.agentId = registration.agentId;
      this.#decided.clear();
      this.#log.warn(
        { lostAgentId: lostId, agentId: registration.agentId },
        "marketplace no longer knew the agent; registered it again",
      );
      await this.#deps.onRegistered?.(this.#spec, registration).catch(() => undefined);
    } catch (error) {
      this.#recordError("re-registration failed", error);
    } finally {
      this.#reregistering = false;
    }
  }

  /** Decides on each biddable job once: gates, ledger, evaluation, one bid. */
  async considerJobs(jobs: Job[], feed: JobFeed): Promise<void> {
    // A round still under way (a slow or hung evaluateJob) keeps its jobs; this
    // poll's are seen again at the next one.
    if (this.#round) return;
    const round = this.#considerAll(jobs, feed).finally(() => {
      this.#round = undefined;
    });
    this.#round = round;
    // The shared poll waits for this agent's decisions at most about one poll
    // interval, so that one agent's slow evaluator holds up no other agent.
    const bound = this.#deps.pollIntervalMs;
    let timer: NodeJS.Timeout | undefined;
    const cutoff = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, bound);
    });
    await Promise.race([round, cutoff]).finally(() => clearTimeout(timer));
  }

  async #considerAll(jobs: Job[], feed: JobFeed): Promise<void> {
    for (const job of jobs) {
      if (!this.#accepting) return;
      if (this.#decided.has(job.job_id)) continue;
      try {
        await this.#consider(job, feed);
      } catch (error) {
        this.#deps.metrics?.bids.inc({ agent: this.#agentId ?? this.key, outcome: "error" });
        this.#recordError("bid decision failed", error, job.job_id);
      }
    }
  }

  async #consider(job: Job, feed: JobFeed): Promise<void> {
    const agentId = this.#agentId!;
    const config = this.#spec.config;
    const metrics = this.#deps.metrics;
    const decide = (outcome: string) => {
      this.#decided.add(job.job_id);
      metrics?.bids.inc({ agent: agentId, outcome });
    };
    if (!this.#bidAttempts.has(job.job_id)) {
      this.#stats.view.jobsSeen++;
      metrics?.jobsSeen.inc({ agent: agentId });
    }
    if (
      !(typeof job.budget_usd === "number" && job.budget_usd > 0 && Number.isFinite(job.budget_usd))
    ) {
      return decide("skipped_budget");
    }
    const lacking = job.required_capabilities.find(
      (c) => (config.capabilities[c] ?? 0) < job.min_capability_score,
    );
    if (lacking !== undefined) return decide("skipped_capability");
    if (await this.#deps.ledger.hasBid(agentId, job.job_id)) return decide("skipped_already_bid");

    const timeoutMs = this.#deps.evaluationTimeoutMs ?? DEFAULT_EVALUATION_TIMEOUT_MS;
    const evaluated = await guardedCall(
      (signal) => this.#executor.evaluateJob(job, this.#context(job, signal)),
      EvaluationSchema,
      { limitMs: timeoutMs, lifetime: this.#lifetime.signal },
    );
    if (evaluated.kind === "interrupted") return;
    if (evaluated.kind === "failed") {
      // The executor's own fault: it would fail the same way at every poll, so the
      // job is given up on (once logged and counted) rather than tried again.
      decide("evaluation_failed");
      const problem =
        evaluated.reason === "timeout"
          ? `no decision within ${timeoutMs / 1000} s`
          : evaluated.reason === "malformed"
            ? `malformed evaluation (${evaluated.detail})`
            : evaluated.detail;
      this.#recordError("job evaluation failed; not bidding", new Error(problem), job.job_id);
      return;
    }
    const evaluation = evaluated.value;
    if (!evaluation.canComplete || !(evaluation.bidAmountUsd > 0)) return decide("declined");

    if ((await feed.bidders(job.job_id)).has(agentId)) {
      await this.#deps.ledger.recordBid(agentId, job.job_id, {
        bidId: "unknown",
        priceUsd: evaluation.bidAmountUsd,
      });
      return decide("skipped_already_bid");
    }

    const attempts = (this.#bidAttempts.get(job.job_id) ?? 0) + 1;
    this.#bidAttempts.set(job.job_id, attempts);
    const price = Math.min(evaluation.bidAmountUsd, job.budget_usd);
    try {
      const bid = await this.#deps.client.placeBid(job.job_id, {
        agent_id: agentId,
        price_usd: price,
        estimated_quality: evaluation.confidence,
        estimated_time_seconds: Math.round(evaluation.estimatedTimeMinutes * 60),
        approach_summary: evaluation.reasoning.slice(0, 500),
      });
      await this.#deps.ledger.recordBid(agentId, job.job_id, {
        bidId: bid.bid_id,
        priceUsd: price,
      });
      feed.noteBid(job.job_id, agentId);
      this.#stats.view.bidsPlaced++;
      decide("placed");
      this.#log.info(
        {
          agentId,
          jobId: job.job_id,
          bidId: bid.bid_id,
          priceUsd: price,
          confidence: evaluation.confidence,
        },
        "bid placed",
      );
      this.#deps.tracker.emit({
        kind: "bid",
        agent: config.name,
        jobId: job.job_id,
        message: `bid $${price} (confidence ${evaluation.confidence})`,
        amountUsd: price,
      });
    } catch (error) {
      // A refused bid (4xx) is final. An unknown outcome (5xx, timeout) may have landed:
      // the bid list is fetched again before the next attempt.
      const refused = isMarketplaceError(error) && error.isClientError;
      if (refused || attempts >= MAX_BID_ATTEMPTS) decide(refused ? "refused" : "failed");
      else {
        feed.forget(job.job_id);
        metrics?.bids.inc({ agent: agentId, outcome: "error" });
      }
      this.#recordError("bid failed", error, job.job_id);
    }
  }

  /** Starts executing jobs assigned to this agent, up to its concurrency limit. */
  async takeAssigned(jobs: Job[]): Promise<void> {
    // Called after each poll that reached the marketplace: a registration waiting
    // out an outage goes now.
    this.#registrationWake?.abort();
    const agentId = this.#agentId;
    if (!agentId || !this.#accepting) return;
    for (const job of jobs) {
      if (job.assigned_agent_id !== agentId || this.#inFlight.has(job.job_id)) continue;
      if (this.#inFlight.size >= this.#maxConcurrent) break;
      const entry = await this.#deps.ledger.get(agentId, job.job_id);
      if (entry?.result) continue; // produced already: the outbox delivers it
      if (!entry?.wonAt) {
        await this.#deps.ledger.recordWon(agentId, job.job_id);
        this.#stats.view.bidsWon++;
        const price = entry?.bidPriceUsd ?? 0;
        this.#stats.view.revenueUsd += price;
        this.#deps.metrics?.revenueUsd.inc({ agent: agentId }, price);
        this.#log.info({ agentId, jobId: job.job_id }, "job won");
        this.#deps.tracker.emit({
          kind: "won",
          agent: this.#spec.config.name,
          jobId: job.job_id,
          message: `won "${job.title.slice(0, 80)}"`,
          amountUsd: price,
        });
      }
      const running: Running = {
        promise: this.#execute(job).finally(() => {
          this.#inFlight.delete(job.job_id);
          this.#stats.view.jobsInFlight = this.#inFlight.size;
        }),
      };
      this.#inFlight.set(job.job_id, running);
      this.#stats.view.jobsInFlight = this.#inFlight.size;
      if (this.#inFlight.size >= this.#maxConcurrent) void this.heartbeat();
    }
  }

  async #execute(job: Job): Promise<void> {
    const agentId = this.#agentId!;
    const log = this.#log.child({ agentId, jobId: job.job_id });
    const deps = this.#deps;
    let result: TaskResult;
    const execution = await deps.ledger.startExecution(agentId, job.job_id);
    if (execution > MAX_EXECUTIONS) {
      result = failedResult(
        `Execution of this job was interrupted ${execution - 1} times; it is not attempted again.`,
      );
    } else {
      // Fractions of a minute are honoured; a job without a usable deadline gets the
      // marketplace's default.
      const minutes = job.deadline_minutes > 0 ? job.deadline_minutes : DEFAULT_DEADLINE_MINUTES;
      const deadlineMs = Math.max(1000, Math.ceil(minutes * 60_000));
      log.info({ attempt: execution, deadlineMinutes: job.deadline_minutes }, "execution started");
      const started = performance.now();
      const outcome = await guardedCall(
        (signal) => this.#executor.executeTask(job, this.#context(job, signal)),
        TaskResultSchema,
        { limitMs: deadlineMs, lifetime: this.#lifetime.signal },
      );
      if (outcome.kind === "interrupted") {
        // Shutdown cut it short: no result, so a restart runs it again (once).
        log.warn("execution interrupted by shutdown; it resumes after restart");
        deps.metrics?.executions.inc({ agent: agentId, outcome: "interrupted" });
        return;
      }
      result =
        outcome.kind === "ok"
          ? outcome.value
          : failedResult(
              outcome.reason === "timeout"
                ? `The job's deadline of ${job.deadline_minutes} minutes passed before the work was done.`
                : outcome.reason === "malformed"
                  ? `The executor returned a malformed result (${outcome.detail}).`
                  : `The executor failed: ${outcome.detail}`,
            );
      result.latencyMs ||= Math.round(performance.now() - started);
    }

    // Whatever the LLM or a plugin put in the result, a secret of ours never leaves:
    // not to the ledger, the status page, nor the customer.
    result.output = scrub(result.output);
    if (result.error !== undefined) result.error = scrub(result.error);
    const outcome = result.success ? "success" : "failed";
    deps.metrics?.executions.inc({ agent: agentId, outcome });
    const cost = ((deps.llmPrices[result.model] ?? 0) * result.tokensUsed) / 1e6;
    this.#stats.view.tokensUsed += result.tokensUsed;
    this.#stats.view.llmCostUsd += cost;
    if (!result.success) this.#stats.view.lastError = result.error ?? result.output.slice(0, 300);
    log.info(
      {
        success: result.success,
        tokens: result.tokensUsed,
        model: result.model,
        latencyMs: result.latencyMs,
      },
      "execution finished",
    );
    deps.tracker.emit({
      kind: "execution",
      agent: this.#spec.config.name,
      jobId: job.job_id,
      message: result.success
        ? `done in ${(result.latencyMs / 1000).toFixed(1)} s, ${result.tokensUsed} tokens`
        : `failed: ${(result.error ?? result.output).slice(0, 200)}`,
      tokens: result.tokensUsed,
      costUsd: cost,
    });

    const record: LedgerResult = {
      success: result.success,
      output: result.output,
      tokensUsed: result.tokensUsed,
      model: result.model,
      ...(result.error ? { error: result.error } : {}),
    };
    try {
      await deps.ledger.recordResult(agentId, job.job_id, record);
    } catch (error) {
      // The result could not be written down; submit it anyway rather than lose it.
      this.#recordError("ledger write failed; submitting the result unrecorded", error, job.job_id);
      await deps.outbox.submit({
        agentId,
        jobId: job.job_id,
        executionAttempts: execution,
        submitAttempts: 0,
        result: record,
        updatedAt: new Date().toISOString(),
      });
      return;
    }
    const entry = await deps.ledger.get(agentId, job.job_id);
    if (entry) await deps.outbox.submit(entry);
  }

  #context(job: Job, signal: AbortSignal): ExecutorContext {
    return {
      agent: this.#spec.config,
      agentId: this.#agentId ?? "",
      llm: this.#deps.llm,
      logger: this.#log.child({ agentId: this.#agentId, jobId: job.job_id }),
      signal,
      defaultModel: this.#deps.defaultModel,
      files: this.#deps.client,
    };
  }

  #setState(state: WorkerState): void {
    this.#state = state;
    this.#stats.view.state = state;
  }

  #recordError(what: string, error: unknown, jobId?: string): void {
    const problem = errorMessage(error);
    this.#stats.view.errors++;
    const line = `${what}: ${problem}`;
    // The same failure again within a minute (an outage seen at every poll) is logged
    // at debug, so the log says it once; metrics and the dashboard still count each.
    const repeated = this.#lastErrorLine === line && Date.now() - this.#lastErrorAt < 60_000;
    this.#lastErrorLine = line;
    this.#lastErrorAt = Date.now();
    this.#stats.view.lastError = line;
    this.#log[repeated ? "debug" : "warn"]({ agentId: this.#agentId, jobId, problem }, what);
    this.#deps.tracker.emit({
      kind: "error",
      agent: this.#spec.config.name,
      jobId,
      message: `${what}: ${problem}`,
    });
  }

  /**
   * Stops bidding, lets in-flight jobs finish for up to `graceMs`, then cuts the rest
   * short (they resume after a restart), heartbeats `offline` and stops.
   */
  async drain(graceMs: number): Promise<void> {
    if (this.#state === "stopped") return;
    const wasRunning = this.#state === "running";
    this.#setState("draining");
    clearInterval(this.#heartbeatTimer);
    if (!wasRunning) this.#lifetime.abort(new Error("worker stopped"));
    const pending = [...this.#inFlight.values()].map((r) => r.promise);
    if (pending.length > 0) {
      this.#log.info({ jobs: pending.length, graceMs }, "waiting for in-flight jobs");
      // The grace timer is cancelled when the jobs finish first, so it holds nothing open.
      const graceOver = new AbortController();
      const timeout = sleep(graceMs, graceOver.signal).then(
        () => "timeout" as const,
        () => "done" as const,
      );
      const finished = await Promise.race([
        Promise.allSettled(pending).then(() => "done" as const),
        timeout,
      ]);
      graceOver.abort();
      if (finished === "timeout") {
        this.#log.warn(
          { jobs: this.#inFlight.size },
          "grace period over; cutting in-flight jobs short",
        );
        this.#lifetime.abort(new Error("shutdown"));
        await Promise.allSettled(pending);
      }
    }
    this.#lifetime.abort(new Error("worker stopped"));
    if (wasRunning) await this.heartbeat("offline");
    this.#setState("stopped");
    this.#deps.tracker.emit({
      kind: "agent-stopped",
      agent: this.#spec.config.name,
      message: `${this.#spec.config.name} stopped`,
    });
  }
}
