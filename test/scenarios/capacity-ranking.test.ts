import { afterEach, describe, expect, it } from "vitest";
import type { DecisionRecord } from "../../src/runner/telemetry/status-types.ts";
import { SCHEMA_JOB } from "../support/fixtures.ts";
import { runningAgents, waitForBid } from "../support/market-helpers.ts";
import { type Harness, postJob, startHarness } from "../support/runner-harness.ts";
import { waitFor } from "../support/wait.ts";

/** When capacity is short, the best jobs first (issue 25): the whole runner, its agents' real load. */
describe("capacity ranking in the runner", () => {
  let h: Harness | undefined;
  afterEach(async () => {
    await h?.close();
    h = undefined;
  });

  it("an agent with two slots and three new jobs bids on two, then on the third once its bids leave a slot", async () => {
    // Polls of 1 s: one round decides all three jobs, however busy the machine.
    h = await startHarness({ env: { AGENT_POLL_INTERVAL: "1" } });
    const url = h.marketplace.url;
    const jobs: string[] = [];
    for (const title of ["Schema A", "Schema B", "Schema C"])
      jobs.push(await postJob(url, { ...SCHEMA_JOB, title }));
    const runner = await h.startRunner();
    const architect = (await runningAgents(runner, 3)).SchemaArchitect;

    const rankedOut = await waitFor("a job ranked out", () =>
      jobs
        .flatMap((jobId) => runner.decisions(jobId))
        .find((d: DecisionRecord) => d.agentId === architect && d.reason === "capacity_ranked_out"),
    );
    // The worker's real load: max_concurrent_jobs 2 of the built-in agent, nothing yet.
    expect(rankedOut.detail).toMatch(
      /ranks 3 of 3; room for 2 more \(max_concurrent_jobs 2: 0 in flight, 0 bids open expected to bring 0\)$/,
    );
    // Two bids at even odds are expected to bring one job: a slot for the third.
    for (const jobId of jobs) await waitForBid(url, jobId, architect);
  });
});
