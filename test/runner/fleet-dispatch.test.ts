import { describe, expect, it } from "vitest";
import type { JobWithBids } from "../../src/marketplace/schemas.ts";
import type { FeedPage, JobFeed } from "../../src/runner/feed/job-feed.ts";
import type { AgentWorker } from "../../src/runner/fleet/agent-worker.ts";
import { FleetDispatch } from "../../src/runner/fleet-dispatch.ts";

/** A worker as the dispatch sees it: its id, its offer answering, its error reports. */
function worker(agentId: string | undefined, answer: (job: JobWithBids) => Promise<void>) {
  const errors: string[] = [];
  const fake = {
    agentId,
    answerOffers: answer,
    telemetry: {
      error: (what: string, _e: unknown, jobId?: string) => errors.push(`${what} ${jobId}`),
    },
  };
  return { worker: fake as unknown as AgentWorker, errors };
}

const page = (n: number): FeedPage => ({ biddable: [], assigned: [], complete: n > 0 });

describe("the fleet dispatch", () => {
  it("runs one dispatch at a time, polls and hints alike, in order; a failed one holds up none after it", async () => {
    const log: string[] = [];
    let running = 0;
    const fleet = new FleetDispatch({
      feed: {} as JobFeed,
      supervisor: {
        workers: [],
        dispatch: async (p) => {
          running++;
          expect(running).toBe(1);
          log.push(`start ${p.complete}`);
          await new Promise((resolve) => setImmediate(resolve));
          log.push(`end ${p.complete}`);
          running--;
          if (!p.complete) throw new Error("one agent's trouble");
        },
      },
    });
    const results = await Promise.allSettled([
      fleet.dispatch(page(1)),
      fleet.dispatch(page(0)),
      fleet.dispatch(page(1)),
    ]);
    expect(results.map((r) => r.status)).toEqual(["fulfilled", "rejected", "fulfilled"]);
    expect(log).toEqual([
      "start true",
      "end true",
      "start false",
      "end false",
      "start true",
      "end true",
    ]);
  });

  it("works out our agents' ids once per poll", () => {
    let asked = 0;
    const workers = [
      worker("agent_1", async () => {}).worker,
      worker(undefined, async () => {}).worker,
    ];
    const fleet = new FleetDispatch({
      feed: {} as JobFeed,
      supervisor: {
        get workers() {
          asked++;
          return workers;
        },
        dispatch: async () => {},
      },
    });
    expect(fleet.isOurAgent("agent_1")).toBe(true);
    expect(fleet.isOurAgent("agent_2")).toBe(false);
    expect([...fleet.ourAgentIds()]).toEqual(["agent_1"]);
    expect(asked).toBe(1);
    workers.push(worker("agent_2", async () => {}).worker);
    expect(fleet.isOurAgent("agent_2")).toBe(false); // the same poll
    fleet.newPoll();
    expect(fleet.isOurAgent("agent_2")).toBe(true);
    expect(asked).toBe(2);
  });

  it("hands a counter-offer to each agent with a bid in the job; one agent's failure is its own", async () => {
    const answered: string[] = [];
    const failing = worker("agent_1", async () => {
      throw new Error("signing failed");
    });
    const bidding = worker("agent_2", async (job) => {
      answered.push(`agent_2 ${job.job_id}`);
    });
    const outside = worker("agent_3", async (job) => {
      answered.push(`agent_3 ${job.job_id}`);
    });
    const fleet = new FleetDispatch({
      feed: {} as JobFeed,
      supervisor: {
        workers: [failing.worker, bidding.worker, outside.worker],
        dispatch: async () => {},
      },
    });
    const job = {
      job_id: "job_1",
      bids: [{ agent_id: "agent_1" }, { agent_id: "agent_2" }],
    } as unknown as JobWithBids;
    await fleet.answerOffers([job]);
    expect(answered).toEqual(["agent_2 job_1"]);
    expect(failing.errors).toEqual(["answering a counter-offer failed job_1"]);
  });
});
