import { afterEach, describe, expect, it } from "vitest";
import { createMetrics } from "../../src/metrics.ts";
import { SCHEMA_JOB } from "../support/fixtures.ts";
import { counterSum, runningAgents, waitForBid } from "../support/market-helpers.ts";
import { type Harness, postJob, startHarness } from "../support/runner-harness.ts";
import { waitFor } from "../support/wait.ts";

/**
 * One shared view of the marketplace's health: while it is down the runner sends one
 * probe at a time and no heartbeats; when it is back heartbeats resume and bidding
 * resumes at the next poll.
 */
describe("marketplace outage", () => {
  let h: Harness | undefined;
  afterEach(async () => {
    await h?.close();
    h = undefined;
  });

  const everyRoute = ["GET /api/jobs", "POST /api/agents/:id/heartbeat", "* /api/jobs/:id/bids"];
  const heartbeatRoute = "POST /api/agents/:id/heartbeat";

  it("pauses heartbeats while down, probes alone, and resumes heartbeats and bidding after", async () => {
    h = await startHarness();
    const metrics = createMetrics({ processMetrics: false });
    const runner = await h.startRunner({}, { metrics });
    await runningAgents(runner, 3);
    await waitFor("heartbeats", async () =>
      (await counterSum(metrics.heartbeats, { outcome: "ok" })) >= 3 ? true : undefined,
    );

    h.marketplace.setFaults({ rules: everyRoute.map((route) => ({ route, fault: "drop" })) });
    await waitFor("the runner to see the outage", () =>
      runner.ready().reasons.some((r) => r.includes("not reachable")),
    );
    // While down no poll completes: the probe's listings are what passes the time.
    const listingRoute = "GET /api/jobs";
    const probesPass = async (n: number) => {
      const target = (await counterSum(metrics.marketplaceRequests, { route: listingRoute })) + n;
      await waitFor(`${n} more probes`, async () =>
        (await counterSum(metrics.marketplaceRequests, { route: listingRoute })) >= target
          ? true
          : undefined,
      );
    };
    // Heartbeats already under way when it went down may still fail; then none at all.
    await probesPass(2);
    const byRoute = async () => {
      const counts = new Map<string, number>();
      for (const v of (await metrics.marketplaceRequests.get()).values) {
        const route = String(v.labels.route);
        counts.set(route, (counts.get(route) ?? 0) + v.value);
      }
      return counts;
    };
    const before = await byRoute();
    await probesPass(6); // the probe backs off to one heartbeat interval: several pass
    const after = await byRoute();
    // No heartbeats, and no agent lists or retries on its own: only the one probe's listings.
    const grew = [...after].filter(([route, n]) => n > (before.get(route) ?? 0)).map(([r]) => r);
    expect(grew).toEqual(["GET /api/jobs"]);
    const heartbeatsBefore = after.get(heartbeatRoute) ?? 0;

    h.marketplace.setFaults(null);
    const jobId = await postJob(h.marketplace.url, SCHEMA_JOB);
    await waitForBid(h.marketplace.url, jobId);
    await waitFor("heartbeats again", async () =>
      (await counterSum(metrics.marketplaceRequests, { route: heartbeatRoute })) >
      heartbeatsBefore + 2
        ? true
        : undefined,
    );
    expect(runner.ready().ready).toBe(true);
  });
});
