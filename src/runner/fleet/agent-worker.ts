import type { AgentSpec } from "../../agent-configs/types.ts";
import type { BaseAgentExecutor } from "../../agents/base-executor.ts";
import { createExecutor } from "../../agents/registry.ts";
import type { ExecutorContext } from "../../agents/types.ts";
import type { Bid, Job, JobWithBids } from "../../marketplace/schemas.ts";
import { sleep } from "../../retry.ts";
import { isStaleEpoch } from "../../state/fence.ts";
import type { LedgerEntry } from "../../state/types.ts";
import type { AgentWallet } from "../../wallet/agent-wallets.ts";
import { agentFloor, checkSpendCap, pricedBid } from "../bidding/agent-pricing.ts";
import type { DecidedBids } from "../bidding/bid-intent.ts";
import { Bidder } from "../bidding/bidder.ts";
import type { RoundBids } from "../bidding/round-bids.ts";
import { executeWonJob } from "../delivery/job-execution.ts";
import type { JobFeed } from "../feed/job-feed.ts";
import { answerLatestOffer } from "../negotiation/offer-answering.ts";
import {
  type AssignmentVerdict,
  checkAssignment,
  needsWinningBid,
} from "../policy/assignment-check.ts";
import type { Floor } from "../policy/price-floor.ts";
import { Heartbeats } from "../presence/heartbeats.ts";
import { AgentRegistration } from "../presence/registration.ts";
import { AgentTelemetry } from "../telemetry/agent-telemetry.ts";
import type { AgentStats } from "../telemetry/status-tracker.ts";
import type { WorkerState } from "../telemetry/status-types.ts";
import { startAgent } from "./agent-startup.ts";
import type { Tenure } from "./tenure.ts";
import type { WorkerAgent, WorkerDeps } from "./worker-deps.ts";

const DEFAULT_MAX_CONCURRENT = 2;
const DEFAULT_EVALUATION_TIMEOUT_MS = 60_000;

/**
 * One agent's lifecycle: registering → running → draining → stopped. It owns the
 * agent's in-flight jobs and their concurrency limit, and wires its parts together:
 * start-up is startAgent's, registering AgentRegistration's, heartbeats Heartbeats',
 * pricing agent-pricing's, bidding its Bidder's, executing a won job executeWonJob's,
 * and everything the operator sees goes through its AgentTelemetry. Every failure is
 * contained here: logged, counted, and the next poll goes on.
 */
export class AgentWorker {
  readonly key: string;
  readonly #agent: WorkerAgent;
  #executor: BaseAgentExecutor;
  readonly #deps: WorkerDeps;
  readonly #telemetry: AgentTelemetry;
  readonly #bidder: Bidder;
  readonly #registration: AgentRegistration;
  readonly #heartbeats: Heartbeats;
  #state: WorkerState = "registering";
  readonly #inFlight = new Map<string, Promise<void>>();
  /** Jobs won that wait for a slot (the concurrency limit held them back at the last look). */
  #waiting = 0;
  /** Jobs assigned to this agent that it will not execute (see assignment-check.ts). */
  readonly #refused = new Set<string>();
  /** Aborted when the worker is forced to stop: registration and executions end. */
  readonly #lifetime = new AbortController();
  #started: Promise<void> | undefined;
  /** This replica's lease on the agent; undefined without replicas (no MongoDB). */
  readonly #tenure: Tenure | undefined;

  constructor(spec: AgentSpec, deps: WorkerDeps, tenure?: Tenure) {
    this.key = spec.key;
    this.#tenure = tenure;
    this.#agent = {
      spec,
      agentId: spec.config.agent_id,
      wallet: undefined,
      selfRegistered: false,
    };
    this.#deps = deps;
    this.#executor = createExecutor(spec.config);
    this.#telemetry = new AgentTelemetry(spec, this.#maxConcurrent, deps);
    const lifetime = this.#lifetime.signal;
    this.#bidder = new Bidder({
      client: deps.client,
      ledger: deps.ledger,
      telemetry: this.#telemetry,
      pollIntervalMs: deps.pollIntervalMs,
      evaluationTimeoutMs: deps.evaluationTimeoutMs ?? DEFAULT_EVALUATION_TIMEOUT_MS,
      lifetime,
    });
    this.#registration = new AgentRegistration(this.#agent, {
      deps,
      telemetry: this.#telemetry,
      lifetime,
    });
    this.#heartbeats = new Heartbeats(this.#agent, {
      deps,
      telemetry: this.#telemetry,
      load: () => ({ inFlight: this.#inFlight.size, maxConcurrent: this.#maxConcurrent }),
      unknownAgent: async (lostId) => {
        if (this.#state === "running")
          await this.#registration.again(lostId, () => this.#bidder.reset());
      },
    });
  }

  get spec(): AgentSpec {
    return this.#agent.spec;
  }
  get agentId(): string | undefined {
    return this.#agent.agentId;
  }
  get wallet(): AgentWallet | undefined {
    return this.#agent.wallet;
  }
  /** True when this runner registered the agent (its mode and capabilities are the runner's). */
  get selfRegistered(): boolean {
    return this.#agent.selfRegistered;
  }
  get state(): WorkerState {
    return this.#state;
  }
  get stats(): AgentStats {
    return this.#telemetry.stats;
  }
  get telemetry(): AgentTelemetry {
    return this.#telemetry;
  }
  get inFlightCount(): number {
    return this.#inFlight.size;
  }
  get #maxConcurrent(): number {
    return this.#agent.spec.config.max_concurrent_jobs ?? DEFAULT_MAX_CONCURRENT;
  }
  get #accepting(): boolean {
    return this.#state === "running" && !this.#tenure?.lost;
  }
  /** New bids need the lease to have time left; won jobs are finished regardless. */
  get #bidding(): boolean {
    return this.#accepting && (this.#tenure?.mayBid() ?? true);
  }

  /** Registers if needed, then heartbeats. Resolves once running (or stopped first). */
  start(): Promise<void> {
    this.#started ??= this.#start();
    return this.#started;
  }

  async #start(): Promise<void> {
    const agentId = await startAgent(this.#agent, {
      deps: this.#deps,
      telemetry: this.#telemetry,
      registration: this.#registration,
      tenure: this.#tenure,
      lifetime: this.#lifetime.signal,
      abandon: (reason) => this.abandon(reason),
    });
    if (!agentId || this.#lifetime.signal.aborted || this.#state !== "registering") return;
    this.#setState("running");
    this.#telemetry.started(agentId);
    this.#heartbeats.start();
  }

  /** Applies a changed config in place: rates and keywords at the next evaluation, model and prompt at the next execution. */
  update(spec: AgentSpec): void {
    const typeChanged = spec.config.agent_type !== this.#agent.spec.config.agent_type;
    this.#agent.spec = spec;
    if (typeChanged) this.#executor = createExecutor(spec.config);
    if (spec.config.agent_id && !this.#agent.agentId) this.#agent.agentId = spec.config.agent_id;
    this.#bidder.reset();
    this.#telemetry.configUpdated(spec, this.#maxConcurrent);
  }

  /** Sends one heartbeat now (`offline` when the worker stops). */
  heartbeat(status?: "offline"): Promise<void> {
    return this.#heartbeats.send(status);
  }

  /** The job's price floor for this agent: estimated LLM cost × margin, at least min_price_usd. */
  floorFor(job: Job): Floor {
    const type = this.#executor.constructor as typeof BaseAgentExecutor;
    return agentFloor(job, this.#agent.spec.config, type, this.#deps);
  }

  /** Answers the poster's latest counter-offer on this agent's bid of a job in negotiation. */
  async answerOffers(job: JobWithBids): Promise<void> {
    const agentId = this.#agent.agentId;
    if (!agentId || this.#state !== "running") return;
    const bid = job.bids.find((b) => b.agent_id === agentId);
    if (!bid) return;
    const signer = this.#heartbeats.ownershipRefused ? undefined : this.#agent.wallet?.account;
    await answerLatestOffer(agentId, job, bid, this.floorFor(job).floorUsd, signer, {
      ledger: this.#deps.ledger,
      sessions: this.#deps.sessions,
      negotiation: this.#deps.negotiation,
      telemetry: this.#telemetry,
    });
  }

  /**
   * Decides on each biddable job once (gates, ledger, evaluation); resolves with the bids
   * to place, or is undefined when this agent has nothing to decide (see Bidder.decide).
   */
  decideBids(
    jobs: Job[],
    feed: JobFeed,
    known: RoundBids,
    listed?: ReadonlySet<string>,
  ): Promise<DecidedBids> | undefined {
    const agentId = this.#agent.agentId;
    if (!agentId || !this.#bidding) return undefined;
    return this.#bidder.decide(
      jobs,
      feed,
      () => ({
        agentId,
        config: this.#agent.spec.config,
        accepting: () => this.#bidding,
        ...(this.#tenure ? { epoch: this.#tenure.epoch } : {}),
        fenced: () => this.abandon("the ledger refused a bid: a newer lease epoch exists"),
        evaluate: (job, signal) => this.#executor.evaluateJob(job, this.#context(job, signal)),
        price: async (job, decision) => {
          const capped = await checkSpendCap(this.#deps.spendCaps, this.key, this.#telemetry);
          const agent = { agentId, config: this.#agent.spec.config };
          return pricedBid(job, decision, capped, this.floorFor(job), agent, this.#deps.pricing);
        },
        capacity: {
          load: () => ({
            maxConcurrent: this.#maxConcurrent,
            inFlight: this.#inFlight.size + this.#waiting,
          }),
          spendLeftUsd: () => this.#deps.spendCaps.left(this.key),
          costUsd: (job) => this.floorFor(job).costUsd,
        },
      }),
      known,
      listed,
    );
  }

  /**
   * Starts executing jobs assigned to this agent, up to its concurrency limit; undefined
   * when no listed job is newly this agent's.
   */
  takeAssigned(jobs: Job[]): Promise<void> | undefined {
    // Called after each poll that reached the marketplace: a registration waiting
    // out an outage goes now.
    this.#registration.wake();
    const agentId = this.#agent.agentId;
    if (!agentId || !this.#accepting) return undefined;
    const mine = jobs.filter(
      (job) => job.assigned_agent_id === agentId && !this.#inFlight.has(job.job_id),
    );
    this.#waiting = 0;
    return mine.length === 0 ? undefined : this.#take(agentId, mine);
  }

  async #take(agentId: string, jobs: Job[]): Promise<void> {
    for (const [i, job] of jobs.entries()) {
      if (this.#inFlight.has(job.job_id)) continue;
      if (this.#inFlight.size >= this.#maxConcurrent) {
        // Won, so committed: they count against the slots new bids may take.
        this.#waiting = jobs
          .slice(i)
          .filter((j) => !this.#inFlight.has(j.job_id) && !this.#refused.has(j.job_id)).length;
        break;
      }
      if (this.#refused.has(job.job_id)) continue;
      const entry = await this.#deps.ledger.get(agentId, job.job_id);
      if (entry?.result) continue; // produced already: the outbox delivers it
      if (!entry?.wonAt) {
        // Anybody may bid in this agent's name and select that bid: only an assignment
        // through a bid of ours, at a price we accepted, is executed.
        const verdict = await this.#checkAssignment(job, entry);
        if (verdict.kind === "refused") {
          this.#refuse(job, verdict.reason, verdict.detail);
          continue;
        }
        await this.#deps.ledger.recordWon(agentId, job.job_id, this.#tenure?.epoch);
        // For price learning; a failed note costs a lesson, never the job.
        await this.#deps.ledger
          .noteOutcome(agentId, job.job_id, { result: "won" })
          .catch((error) => this.#telemetry.error("could not note the job won", error, job.job_id));
        this.#deps.pricing?.outcomes.forget(agentId);
        // The agreed price is what the service pays on: the winning bid's original
        // price_usd, ours, even after an accepted counter-offer (payments/release.py).
        this.#telemetry.jobWon(job, entry?.bidPriceUsd ?? verdict.agreedUsd);
      }
      const running = executeWonJob(agentId, job, {
        ledger: this.#deps.ledger,
        outbox: this.#deps.outbox,
        telemetry: this.#telemetry,
        llmPrices: this.#deps.llmPrices,
        ...(this.#deps.quality ? { quality: this.#deps.quality } : {}),
        ...(this.#tenure ? { epoch: this.#tenure.epoch } : {}),
        lifetime: this.#lifetime.signal,
        execute: (j, context) => this.#executor.executeTask(j, context),
        context: (j, signal) => this.#context(j, signal),
        recordSpend: (usd) => this.#deps.spendCaps.record(this.key, usd),
      })
        .catch((error: unknown) => {
          if (isStaleEpoch(error))
            this.abandon("the ledger refused a write: a newer lease epoch exists");
          else this.#telemetry.error("execution failed", error, job.job_id);
        })
        .finally(() => {
          this.#inFlight.delete(job.job_id);
          this.#telemetry.inFlight(this.#inFlight.size);
        });
      this.#inFlight.set(job.job_id, running);
      this.#telemetry.inFlight(this.#inFlight.size);
      if (this.#inFlight.size >= this.#maxConcurrent) void this.heartbeat();
    }
  }

  async #checkAssignment(job: Job, entry: LedgerEntry | undefined): Promise<AssignmentVerdict> {
    let winningBid: Bid | undefined;
    if (needsWinningBid(job, entry) && job.winning_bid_id) {
      const full = await this.#deps.client.getJob(job.job_id, this.#lifetime.signal);
      winningBid = full.bids.find((bid) => bid.bid_id === job.winning_bid_id);
    }
    return checkAssignment({
      job,
      entry,
      floorUsd: this.floorFor(job).floorUsd,
      ...(winningBid ? { winningBid } : {}),
    });
  }

  /** Said once per job; the job is never executed here (bounded: the oldest are forgotten). */
  #refuse(job: Job, reason: "not_our_bid" | "below_floor", detail: string): void {
    if (this.#refused.size >= 10_000) this.#refused.clear();
    this.#refused.add(job.job_id);
    this.#telemetry.assignmentRefused(job, reason, detail);
  }

  #context(job: Job, signal: AbortSignal): ExecutorContext {
    return {
      agent: this.#agent.spec.config,
      agentId: this.#agent.agentId ?? "",
      llm: this.#deps.llm,
      logger: this.#telemetry.log.child({ agentId: this.#agent.agentId, jobId: job.job_id }),
      signal,
      defaultModel: this.#deps.defaultModel,
      files: this.#deps.client,
    };
  }

  #setState(state: WorkerState): void {
    this.#state = state;
    this.#telemetry.stateChanged(state);
  }

  /**
   * The lease is someone else's now: stop at once. In-flight executions are cut short
   * (their writes would be refused anyway; the new holder runs the jobs) and no
   * `offline` heartbeat is sent, since the agent runs on elsewhere.
   */
  abandon(reason: string): void {
    if (this.#state === "stopped") return;
    this.#tenure?.lose();
    // All timers, a first heartbeat still waiting for its moment too: none goes after this.
    this.#heartbeats.close();
    this.#lifetime.abort(new Error("lease lost"));
    this.#setState("stopped");
    this.#telemetry.leaseLost(reason);
  }

  /**
   * Stops bidding, lets in-flight jobs finish for up to `graceMs`, then cuts the rest
   * short (they resume after a restart), heartbeats `offline` and stops.
   */
  async drain(graceMs: number): Promise<void> {
    if (this.#state === "stopped") {
      await Promise.allSettled([...this.#inFlight.values()]);
      return;
    }
    const wasRunning = this.#state === "running";
    this.#setState("draining");
    this.#heartbeats.close();
    if (!wasRunning) this.#lifetime.abort(new Error("worker stopped"));
    const pending = [...this.#inFlight.values()];
    if (pending.length > 0) {
      this.#telemetry.drainWaiting(pending.length, graceMs);
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
        this.#telemetry.drainCutShort(this.#inFlight.size);
        this.#lifetime.abort(new Error("shutdown"));
        await Promise.allSettled(pending);
      }
    }
    this.#lifetime.abort(new Error("worker stopped"));
    if (wasRunning) await this.heartbeat("offline");
    this.#setState("stopped");
    this.#telemetry.stopped();
  }
}
