import type { AgentConfig } from "../agents/types.ts";
import type { AgentSpec, ConfigIssue, ConfigSnapshot } from "../config-sources/types.ts";
import type { Logger } from "../logger.ts";
import { errorMessage } from "../secrets.ts";
import { AgentWorker, type WorkerDeps } from "./agent-worker.ts";
import { placeRound, RoundBids } from "./bidder.ts";
import type { FeedPage, JobFeed } from "./job-feed.ts";

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
  /** Workers on their way out, kept until their drain ends. */
  readonly #leaving = new Set<Promise<void>>();
  #desired = new Map<string, AgentSpec>();
  #issues: ConfigIssue[] = [];
  #applying: Promise<void> = Promise.resolve();
  #stopping = false;

  constructor(deps: WorkerDeps, graceMs: number) {
    this.#deps = deps;
    this.#log = deps.logger;
    this.#graceMs = graceMs;
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
        // Relaunch from the newest desired config, unless it went away meanwhile.
        void this.#retire(key, worker).then(() => {
          const latest = this.#desired.get(key);
          if (latest && !this.#workers.has(key) && !this.#stopping) this.#launch(latest);
        });
      } else if (JSON.stringify(worker.spec.config) !== JSON.stringify(spec.config)) {
        worker.update(spec);
      }
    }
    for (const [key, spec] of desired) {
      if (!this.#workers.has(key)) this.#launch(spec);
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
      worker = new AgentWorker(spec, this.#deps);
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
        this.#leaving.delete(done);
      });
    this.#leaving.add(done);
    return done;
  }

  /**
   * Hands one poll's jobs to every running worker (one worker's trouble stays its own),
   * then places the round's bids together: concurrently, with one ledger write.
   */
  async dispatch(page: FeedPage, feed: JobFeed): Promise<void> {
    this.updateGauge();
    const known = new RoundBids(
      this.#deps.ledger,
      page.biddable.map((job) => job.job_id),
    );
    const decided = await Promise.allSettled(
      this.workers.map(async (worker) => {
        await worker.takeAssigned(page.assigned);
        return worker.decideBids(page.biddable, feed, known, page.complete);
      }),
    );
    const intents = decided.flatMap((d) => (d.status === "fulfilled" ? d.value : []));
    if (intents.length > 0) await placeRound(intents, this.#deps.ledger);
  }

  /** Stops every worker: no more bids, in-flight jobs finish within the grace period. */
  async stopAll(): Promise<void> {
    this.#stopping = true;
    await this.#applying;
    for (const [key, worker] of this.#workers) void this.#retire(key, worker);
    await Promise.allSettled([...this.#leaving]);
  }
}

function needsRestart(current: AgentSpec, next: AgentSpec): boolean {
  return RESTART_FIELDS.some((field) => current.config[field] !== next.config[field]);
}
