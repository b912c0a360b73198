import type { JobWithBids } from "../marketplace/schemas.ts";
import type { FeedPage, JobFeed } from "./feed/job-feed.ts";
import type { AgentWorker } from "./fleet/agent-worker.ts";
import type { Supervisor } from "./fleet/supervisor.ts";

export interface FleetDispatchDeps {
  supervisor: Pick<Supervisor, "workers" | "dispatch">;
  feed: JobFeed;
}

/**
 * The one way jobs reach the agents, from polls and webhook hints alike: one dispatch at
 * a time, so no job is taken up twice; and which marketplace agents are ours, worked out
 * once per poll (the feed and the hints ask for every job).
 */
export class FleetDispatch {
  readonly #deps: FleetDispatchDeps;
  #dispatching: Promise<void> = Promise.resolve();
  /** The marketplace ids of the running agents, worked out once per poll. */
  #agentIds: Set<string> | undefined;

  constructor(deps: FleetDispatchDeps) {
    this.#deps = deps;
  }

  get workers(): AgentWorker[] {
    return this.#deps.supervisor.workers;
  }

  /** A poll begins: the running agents' ids are worked out afresh when next asked. */
  newPoll(): void {
    this.#agentIds = undefined;
  }

  /** Hands a page of jobs to the agents (bids decided, assignments taken up), after the one under way. */
  dispatch(page: FeedPage): Promise<void> {
    const run = this.#dispatching.then(() => this.#deps.supervisor.dispatch(page, this.#deps.feed));
    this.#dispatching = run.catch(() => undefined);
    return run;
  }

  /** Counter-offers on bids of ours in jobs no listing shows (found by the feed's look-ups). */
  async answerOffers(jobs: readonly JobWithBids[]): Promise<void> {
    for (const job of jobs) {
      for (const worker of this.workers) {
        if (!job.bids.some((bid) => bid.agent_id === worker.agentId)) continue;
        await worker.answerOffers(job).catch((error: unknown) => {
          worker.telemetry.error("answering a counter-offer failed", error, job.job_id);
        });
      }
    }
  }

  /** Whether the agent id is one of this runner's running agents. */
  isOurAgent(agentId: string): boolean {
    return this.ourAgentIds().has(agentId);
  }

  ourAgentIds(): ReadonlySet<string> {
    this.#agentIds ??= new Set(this.workers.flatMap((w) => (w.agentId ? [w.agentId] : [])));
    return this.#agentIds;
  }
}
