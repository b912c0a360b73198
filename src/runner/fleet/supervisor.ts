import type { AgentSpec, ConfigIssue, ConfigSnapshot } from "../../agent-configs/types.ts";
import type { AgentConfig } from "../../agents/types.ts";
import type { Logger } from "../../logger.ts";
import { errorMessage } from "../../secrets.ts";
import type { DecidedBids } from "../bidding/bid-intent.ts";
import { RoundBids } from "../bidding/round-bids.ts";
import { placeRound } from "../bidding/round-placement.ts";
import type { FeedPage, JobFeed } from "../feed/job-feed.ts";
import { AgentWorker } from "./agent-worker.ts";
import type { Tenure } from "./tenure.ts";
import type { WorkerDeps } from "./worker-deps.ts";

/** Fields whose change needs a fresh worker (after its in-flight jobs finish). */
const RESTART_FIELDS: Array<keyof AgentConfig> = ["agent_type"];

/**
 * Holds the desired set of agents and reconciles the running workers with it: new
 * agents start, changed ones update in place (or restart when their type changed),
 * removed ones stop bidding, finish their jobs, heartbeat offline and go.
 */
export class Supervisor {
  readonly #deps: WorkerDeps;
  readonly #log: Logger;
  readonly #graceMs: number;
  readonly #workers = new Map<string, AgentWorker>();
  /**
   * Workers on their way out, by key, until their drain ends. No new worker starts for
   * a key still here: the same marketplace agent must never run twice at once.
   */
  readonly #leaving = new Map<string, Promise<void>>();
  #desired = new Map<string, AgentSpec>();
  #issues: ConfigIssue[] = [];
  #applying: Promise<void> = Promise.resolve();
  #stopping = false;
  /**
   * With replicas: the agents this replica holds a lease on, by key. Only those run.
   * Undefined without replicas: every desired agent runs.
   */
  readonly #held: Map<string, Tenure> | undefined;

  constructor(deps: WorkerDeps, graceMs: number, options: { leased?: boolean } = {}) {
    this.#deps = deps;
    this.#log = deps.logger;
    this.#graceMs = graceMs;
    this.#held = options.leased ? new Map() : undefined;
  }

  /** The agents the config asks for (all replicas share them). */
  desiredKeys(): string[] {
    return [...this.#desired.keys()];
  }

  /** Jobs in flight per running agent: the least busy are handed over first. */
  load(): Map<string, number> {
    return new Map([...this.#workers].map(([key, worker]) => [key, worker.inFlightCount]));
  }

  /** Whether this replica runs the marketplace agent with this id (its results are ours to submit). */
  runsAgent(agentId: string): boolean {
    return this.workers.some((worker) => worker.agentId === agentId && worker.state !== "stopped");
  }

  #mayRun(key: string): boolean {
    return !this.#held || this.#held.has(key);
  }

  /** A lease on the agent was claimed: it runs here now. */
  acquire(key: string, tenure: Tenure): void {
    if (!this.#held) return;
    this.#held.set(key, tenure);
    const spec = this.#desired.get(key);
    // A worker still draining here starts again once it has stopped (see #retire).
    if (spec && !this.#workers.has(key) && !this.#leaving.has(key) && !this.#stopping)
      this.#launch(spec);
    this.updateGauge();
  }

  /** Hand-over: the agent stops bidding and finishes its in-flight jobs here; then its lease may go. */
  async handOver(key: string): Promise<void> {
    // Not held here any more from now on, so the drained worker is not started again.
    this.#held?.delete(key);
    const worker = this.#workers.get(key);
    if (worker) await this.#retire(key, worker);
    else await this.#leaving.get(key);
  }

  /** The lease went to another replica: the agent stops here at once. */
  revoke(key: string, reason: string): void {
    this.#held?.delete(key);
    const worker = this.#workers.get(key);
    if (!worker) return;
    this.#workers.delete(key);
    worker.abandon(reason);
    worker.telemetry.remove();
    this.updateGauge();
  }

  get workers(): AgentWorker[] {
    return [...this.#workers.values()];
  }

  get issues(): ConfigIssue[] {
    return this.#issues;
  }

  /** Reconciles with a new snapshot. Snapshots are applied one at a time, in order. */
  apply(snapshot: ConfigSnapshot): Promise<void> {
    this.#applying = this.#applying
      .then(() => this.#apply(snapshot))
      .catch((error: unknown) => {
        this.#log.error({ problem: errorMessage(error) }, "applying agent configs failed");
      });
    return this.#applying;
  }

  async #apply(snapshot: ConfigSnapshot): Promise<void> {
    if (this.#stopping) return;
    this.#issues = snapshot.issues;
    const desired = new Map(snapshot.agents.map((spec) => [spec.key, spec]));
    this.#desired = desired;
    for (const [key, worker] of this.#workers) {
      const spec = desired.get(key);
      if (!spec) {
        this.#log.info(
          { agent: worker.spec.config.name },
          "agent removed from config; stopping after its in-flight jobs",
        );
        void this.#retire(key, worker);
      } else if (needsRestart(worker.spec, spec)) {
        this.#log.info(
          { agent: spec.config.name },
          "agent type changed; restarting after its in-flight jobs",
        );
        // The new worker starts once this one has drained (see #retire).
        void this.#retire(key, worker);
      } else if (JSON.stringify(worker.spec.config) !== JSON.stringify(spec.config)) {
        worker.update(spec);
      }
    }
    for (const [key, spec] of desired) {
      if (!this.#workers.has(key) && !this.#leaving.has(key) && this.#mayRun(key))
        this.#launch(spec);
    }
    this.updateGauge();
  }

  /** Sets bazaar_runner_agents{state} from the workers' current states. */
  updateGauge(): void {
    const gauge = this.#deps.metrics?.agents;
    if (!gauge) return;
    for (const [state, count] of Object.entries(this.#deps.tracker.countByState()))
      gauge.set({ state }, count);
  }

  #launch(spec: AgentSpec): void {
    let worker: AgentWorker;
    try {
      worker = new AgentWorker(spec, this.#deps, this.#held?.get(spec.key));
    } catch (error) {
      this.#log.error(
        { agent: spec.config.name, problem: errorMessage(error) },
        "agent could not be created",
      );
      return;
    }
    this.#workers.set(spec.key, worker);
    void worker.start().catch((error: unknown) => {
      this.#log.error(
        { agent: spec.config.name, problem: errorMessage(error) },
        "agent failed to start",
      );
    });
  }

  #retire(key: string, worker: AgentWorker): Promise<void> {
    this.#workers.delete(key);
    const done = worker
      .drain(this.#graceMs)
      .catch((error: unknown) => {
        this.#log.error(
          { agent: worker.spec.config.name, problem: errorMessage(error) },
          "agent stop failed",
        );
      })
      .finally(() => {
        worker.telemetry.remove();
        this.#leaving.delete(key);
        // Wanted again (a restart, or re-added while draining): start from the newest config.
        const latest = this.#desired.get(key);
        if (latest && !this.#stopping && !this.#workers.has(key) && this.#mayRun(key))
          this.#launch(latest);
      });
    this.#leaving.set(key, done);
    return done;
  }

  /**
   * Hands one poll's jobs to every running worker (one worker's trouble stays its own),
   * then places the round's bids together: concurrently, with one ledger write. A worker
   * with nothing to do answers synchronously, so a poll that brings nothing new costs
   * 10,000 agents a loop, not 10,000 promises.
   */
  async dispatch(page: FeedPage, feed: JobFeed): Promise<void> {
    this.updateGauge();
    const known = new RoundBids(this.#deps.ledger);
    const listed = page.complete ? new Set(page.biddable.map((job) => job.job_id)) : undefined;
    const pending: Promise<DecidedBids | undefined>[] = [];
    for (const worker of this.workers) {
      try {
        const taking = worker.takeAssigned(page.assigned);
        const deciding = taking
          ? taking.then(() => worker.decideBids(page.biddable, feed, known, listed))
          : worker.decideBids(page.biddable, feed, known, listed);
        if (deciding) pending.push(deciding.catch((error) => this.#roundFailed(worker, error)));
      } catch (error) {
        this.#roundFailed(worker, error);
      }
    }
    if (pending.length === 0) return;
    const shares = (await Promise.all(pending)).flatMap((decided) =>
      decided && decided.intents.length > 0 ? [decided] : [],
    );
    if (shares.length > 0) await placeRound(shares, this.#deps.ledger);
  }

  /** One worker's part of a poll failed (it places no bids); the others went on. */
  #roundFailed(worker: AgentWorker, error: unknown): undefined {
    this.#log.error(
      { agent: worker.spec.config.name, problem: errorMessage(error) },
      "an agent's part of a poll failed; the other agents went on",
    );
    return undefined;
  }

  /** Stops every worker: no more bids, in-flight jobs finish within the grace period. */
  async stopAll(): Promise<void> {
    this.#stopping = true;
    await this.#applying;
    for (const [key, worker] of this.#workers) void this.#retire(key, worker);
    await Promise.allSettled([...this.#leaving.values()]);
  }
}

function needsRestart(current: AgentSpec, next: AgentSpec): boolean {
  return RESTART_FIELDS.some((field) => current.config[field] !== next.config[field]);
}
