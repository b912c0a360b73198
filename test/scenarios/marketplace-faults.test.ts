import { createServer } from "node:net";
import { join } from "node:path";
import { Agent } from "undici";
import { afterEach, describe, expect, it } from "vitest";
import { MarketplaceClient } from "../../src/marketplace/client.ts";
import { isMarketplaceError, type MarketplaceError } from "../../src/marketplace/errors.ts";
import { type FaultKind, startMarketplace } from "../../src/marketplace-server/index.ts";
import { createMetrics } from "../../src/metrics.ts";
import type { Runner } from "../../src/runner/runner.ts";
import { SCHEMA_JOB } from "../support/fixtures.ts";
import {
  award,
  counterSum,
  getJob,
  pollsPass,
  runningAgents,
  updateMarketJob,
  waitForBid,
  waitForResult,
} from "../support/market-helpers.ts";
import { type Harness, postJob, startHarness } from "../support/runner-harness.ts";
import { waitFor } from "../support/wait.ts";

/**
 * The runner against a misbehaving marketplace: it is down at start, its listing
 * fails in every way a service or proxy can, it lists malformed jobs, and it loses
 * the answers to a bid and to a result submission after they took effect.
 */

const LISTING = "GET /api/jobs";

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

const marketDb = (h: Harness) => join(h.stateDir, "marketplace.sqlite");

function listingRequests(runner: Runner, status?: string): Promise<number> {
  return counterSum(runner.metrics.marketplaceRequests, {
    route: LISTING,
    ...(status === undefined ? {} : { status }),
  });
}

describe("marketplace faults at the level of the runner", () => {
  let h: Harness | undefined;
  let late: Awaited<ReturnType<typeof startMarketplace>> | undefined;
  afterEach(async () => {
    await h?.close();
    await late?.close();
    h = undefined;
    late = undefined;
  });

  it("starts while the marketplace refuses connections, retries registration with backoff, and bids once it is up", async () => {
    h = await startHarness();
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const runner = await h.startRunner({ bazaarApiUrl: url });
    const registrations = () =>
      counterSum(runner.metrics.marketplaceRequests, {
        route: "POST /api/agents/register",
        status: "network",
      });

    // Up, not ready, and trying: registration attempts fail with connection errors.
    expect(runner.ready().ready).toBe(false);
    await waitFor("registration attempts", async () => (await registrations()) >= 3);
    const before = await registrations();
    // Long enough for backoffs to grow past several poll intervals.
    await new Promise((resolve) => setTimeout(resolve, 5000));
    const during = (await registrations()) - before;
    // Three agents, one registration at a time, each call a few attempts then a
    // growing backoff: a handful of attempts in 5 s, not a storm.
    expect(during).toBeLessThanOrEqual(40);
    expect(runner.workers.map((w) => w.state)).toEqual([
      "registering",
      "registering",
      "registering",
    ]);
    expect(runner.ready()).toMatchObject({ ready: false });
    expect(runner.ready().reasons.join(" ")).toMatch(/not reachable/);
    const outageWarnings = h.logs
      .entries()
      .filter((e) => e.msg === "marketplace unreachable; backing off");
    expect(outageWarnings).toHaveLength(1);

    // The marketplace comes up on that port.
    late = await startMarketplace({
      host: "127.0.0.1",
      port,
      dbPath: join(h.stateDir, "late-marketplace.sqlite"),
    });
    const okBefore = await listingRequests(runner, "200");
    const ids = await runningAgents(runner, 3);
    await waitFor("ready", () => runner.ready().ready);
    const jobId = await postJob(late.url, SCHEMA_JOB);
    await waitForBid(late.url, jobId, ids.SchemaArchitect);
    // Registration did not wait out a long backoff: it went with the first polls
    // that reached the marketplace (three listings per poll).
    const polls = ((await listingRequests(runner, "200")) - okBefore) / 3;
    expect(polls).toBeLessThanOrEqual(10);
  });

  const listingFaults: Array<[FaultKind, string]> = [
    ["error500", "500"],
    ["rateLimit", "429"],
    ["html503", "503"],
    ["truncatedJson", "invalid-response"],
    ["drop", "network"],
  ];

  it.each(listingFaults)(
    "%s on the job listing: one warning, counted as %s, keeps running, bids once it clears",
    async (fault, status) => {
      h = await startHarness();
      const runner = await h.startRunner();
      const ids = await runningAgents(runner, 3);
      await waitFor("ready", () => runner.ready().ready);
      const logStart = h.logs.lines.length;

      h.marketplace.setFaults({ rules: [{ route: LISTING, fault, retryAfterSeconds: 1 }] });
      const jobId = await postJob(h.marketplace.url, SCHEMA_JOB);
      await waitFor(
        `three failed listings counted as ${status}`,
        async () => (await listingRequests(runner, status)) >= 3,
      );
      await waitFor("not ready during the outage", () => !runner.ready().ready);
      expect((await getJob(h.marketplace.url, jobId)).bids).toEqual([]);
      // Every worker still runs (heartbeats are not affected by the listing's outage).
      expect(runner.workers.every((w) => w.state === "running")).toBe(true);

      const okBefore = await listingRequests(runner, "200");
      h.marketplace.setFaults(null);
      await waitForBid(h.marketplace.url, jobId, ids.SchemaArchitect);
      // Resumed with the first polls after the fault cleared (three listings a poll).
      const polls = ((await listingRequests(runner, "200")) - okBefore) / 3;
      expect(polls).toBeLessThanOrEqual(4);
      await waitFor("the recovery note", () =>
        h!.logs.entries().some((e) => e.msg === "marketplace reachable again"),
      );
      expect(runner.ready().ready).toBe(true);

      const window = h.logs.entries().slice(logStart);
      const warnings = window.filter((e) => Number(e.level) >= 40).map((e) => e.msg);
      expect(warnings).toEqual(["marketplace unreachable; backing off"]);
    },
  );

  it("a listing that does not answer in time fails as a timeout, counted, after its attempts", async () => {
    h = await startHarness();
    const metrics = createMetrics({ processMetrics: false });
    const pool = new Agent();
    const client = new MarketplaceClient({
      baseUrl: h.marketplace.url,
      dispatcher: pool,
      metrics,
      timeoutMs: 200,
      baseDelayMs: 10,
    });
    try {
      h.marketplace.setFaults({ rules: [{ route: LISTING, fault: "delay", delayMs: 2000 }] });
      const failure = await client
        .listJobs({ status: "posted" }, undefined, { maxAttempts: 2 })
        .then(
          () => undefined,
          (error: unknown) => error,
        );
      expect(isMarketplaceError(failure)).toBe(true);
      expect((failure as MarketplaceError).kind).toBe("timeout");
      expect((failure as MarketplaceError).message).toMatch(/no answer within 200 ms/);
      expect(
        await counterSum(metrics.marketplaceRequests, { route: LISTING, status: "timeout" }),
      ).toBe(2);
      // Once it answers in time again, the same client lists.
      h.marketplace.setFaults(null);
      expect((await client.listJobs({ status: "posted" })).jobs).toEqual([]);
    } finally {
      await pool.close();
    }
  });

  it("makes no request storm during an outage", async () => {
    h = await startHarness();
    const runner = await h.startRunner();
    await runningAgents(runner, 3);
    h.marketplace.setFaults({ rules: [{ route: LISTING, fault: "error500" }] });
    await waitFor("the outage noticed", () => !runner.ready().ready);
    const before = await listingRequests(runner);
    await new Promise((resolve) => setTimeout(resolve, 2000));
    const during = (await listingRequests(runner)) - before;
    // Polling normally (every 0.2 s, three listings) would make about 30 requests in
    // 2 s; a storm would make hundreds.
    expect(during).toBeGreaterThan(0);
    expect(during).toBeLessThanOrEqual(40);
  });

  it("skips malformed jobs with a log line and a metric, and bids on the good ones", async () => {
    h = await startHarness();
    const db = marketDb(h);
    // Jobs the API would refuse, written straight into the marketplace's store
    // before the runner starts, so it never sees them intact.
    const negative = await postJob(h.marketplace.url, { ...SCHEMA_JOB, title: "Schema A" });
    updateMarketJob(db, negative, { budget_usd: -5 });
    const huge = await postJob(h.marketplace.url, { ...SCHEMA_JOB, title: "Schema B" });
    updateMarketJob(db, huge, {
      description: `${SCHEMA_JOB.description} ${"database schema ".repeat(200_000)}`,
    });
    const good = await postJob(h.marketplace.url, { ...SCHEMA_JOB, title: "Schema C" });

    const runner = await h.startRunner();
    const ids = await runningAgents(runner, 3);
    await waitForBid(h.marketplace.url, good, ids.SchemaArchitect);
    const counted = async () =>
      (await counterSum(runner.metrics.jobsSkipped, { reason: "malformed" })) >= 1 &&
      (await counterSum(runner.metrics.jobsSkipped, { reason: "too_large" })) >= 1;
    await waitFor("the malformed and the too large job counted", counted);
    await pollsPass(runner, 5);

    expect((await getJob(h.marketplace.url, negative)).bids).toEqual([]);
    expect((await getJob(h.marketplace.url, huge)).bids).toEqual([]);
    const skipped = h.logs
      .entries()
      .filter((e) => e.msg === "malformed job skipped" || e.msg === "job too large, skipped");
    // One line per bad job, however many polls saw it.
    expect(skipped.map((e) => e.jobId).sort()).toEqual([negative, huge].sort());
    expect(String(skipped.find((e) => e.jobId === negative)?.problem)).toMatch(/budget_usd/);
    expect(skipped.find((e) => e.jobId === huge)).toMatchObject({
      reason: "too_large",
      problem: expect.stringMatching(/^description: /),
    });
    expect(await counterSum(runner.metrics.jobsSkipped, { reason: "malformed" })).toBe(1);
    expect(await counterSum(runner.metrics.jobsSkipped, { reason: "too_large" })).toBe(1);
    // The decision log says why no agent bid on the big one.
    expect(runner.decisions(huge)).toEqual([
      expect.objectContaining({ outcome: "skip", reason: "too_large", agentId: null }),
    ]);
    // The multi-megabyte description is not logged.
    expect(h.logs.text()).not.toMatch(/(database schema ){100}/);
  });

  it("skips jobs a listing mangles (missing title, wrong types) and bids on the intact ones", async () => {
    h = await startHarness();
    const a = await postJob(h.marketplace.url, { ...SCHEMA_JOB, title: "Schema A" });
    const b = await postJob(h.marketplace.url, { ...SCHEMA_JOB, title: "Schema B" });
    // Every other job of each listing comes back without a title, with a string budget.
    h.marketplace.setFaults({ rules: [{ route: LISTING, fault: "malformedJobs" }] });
    const runner = await h.startRunner();
    const ids = await runningAgents(runner, 3);
    await waitFor(
      "a bid on one of the two jobs",
      async () =>
        (await getJob(h!.marketplace.url, a)).bids.length +
          (await getJob(h!.marketplace.url, b)).bids.length >
        0,
    );
    await waitFor("the mangled job counted", () =>
      counterSum(runner.metrics.jobsSkipped, { reason: "malformed" }).then((n) => n >= 1),
    );
    await pollsPass(runner, 3);
    const bids = [
      ...(await getJob(h.marketplace.url, a)).bids,
      ...(await getJob(h.marketplace.url, b)).bids,
    ];
    expect(bids.map((bid) => bid.agent_id)).toEqual([ids.SchemaArchitect]);
    const skipped = h.logs.entries().filter((e) => e.msg === "malformed job skipped");
    expect(skipped.length).toBeGreaterThanOrEqual(1);
    const unbid = (await getJob(h.marketplace.url, a)).bids.length > 0 ? b : a;
    expect(skipped.map((e) => e.jobId)).toContain(unbid);

    // Once the listing is whole again, the skipped job gets its bid.
    h.marketplace.setFaults(null);
    await waitForBid(h.marketplace.url, unbid, ids.SchemaArchitect);
  });

  it("a bid whose answer is lost after it landed is not placed again", async () => {
    h = await startHarness();
    const runner = await h.startRunner();
    const ids = await runningAgents(runner, 3);
    h.marketplace.setFaults({
      rules: [{ route: "POST /api/jobs/:id/bids", fault: "error500", after: true, times: 1 }],
    });
    const jobId = await postJob(h.marketplace.url, SCHEMA_JOB);
    await waitForBid(h.marketplace.url, jobId, ids.SchemaArchitect);
    await waitFor("the lost answer noticed", () =>
      h!.logs.entries().some((e) => e.msg === "bid failed" && e.jobId === jobId),
    );
    await waitFor("the bid recorded in the ledger", () =>
      runner.ledger.hasBid(ids.SchemaArchitect!, jobId),
    );
    await pollsPass(runner, 5);
    const bids = (await getJob(h.marketplace.url, jobId)).bids;
    expect(bids.map((b) => b.agent_id)).toEqual([ids.SchemaArchitect]);
    expect(
      await counterSum(runner.metrics.marketplaceRequests, { route: "POST /api/jobs/:id/bids" }),
    ).toBe(1);

    // The job, once won, is done as usual.
    await award(h.marketplace.url, jobId, bids[0]!.bid_id);
    expect((await waitForResult(h.marketplace.url, jobId)).result?.success).toBe(true);
  });

  it("a result whose answer is lost after it landed is recognised as accepted, and sent no more", async () => {
    h = await startHarness();
    const runner = await h.startRunner();
    const ids = await runningAgents(runner, 3);
    const jobId = await postJob(h.marketplace.url, SCHEMA_JOB);
    const bid = await waitForBid(h.marketplace.url, jobId, ids.SchemaArchitect);
    h.marketplace.setFaults({
      rules: [
        { route: "POST /api/jobs/:id/submit-result", fault: "error500", after: true, times: 1 },
      ],
    });
    await award(h.marketplace.url, jobId, bid.bid_id);
    const done = await waitForResult(h.marketplace.url, jobId);
    expect(done.status).toBe("completed");
    expect(done.result?.executed_by).toBe(ids.SchemaArchitect);
    await waitFor(
      "the ledger to record acceptance",
      async () => (await runner.ledger.get(ids.SchemaArchitect!, jobId))?.acceptedAt,
    );
    // Several outbox rounds later: nothing more was sent.
    await pollsPass(runner, 5);
    const submits = (status: string) =>
      counterSum(runner.metrics.marketplaceRequests, {
        route: "POST /api/jobs/:id/submit-result",
        status,
      });
    expect(await submits("500")).toBe(1);
    expect(await submits("400")).toBe(1);
    expect(await submits("200")).toBe(0);
    const said = h.logs.entries().filter((e) => e.jobId === jobId);
    expect(
      said.filter((e) => e.msg === "result already accepted by an earlier attempt"),
    ).toHaveLength(1);
    expect(said.filter((e) => e.msg === "result refused; kept in the ledger, not retried")).toEqual(
      [],
    );
    expect(await runner.ledger.pendingResults()).toEqual([]);
    expect(
      await counterSum(runner.metrics.resultsSubmitted, {
        agent: ids.SchemaArchitect,
        outcome: "accepted",
      }),
    ).toBe(1);
  });
});
