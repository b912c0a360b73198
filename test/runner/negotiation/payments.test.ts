import { afterEach, describe, expect, it } from "vitest";
import { silentLogger } from "../../../src/logger.ts";
import { MarketplaceClient } from "../../../src/marketplace/client.ts";
import { NegotiationApi } from "../../../src/marketplace/negotiation-api.ts";
import { createSharedPool } from "../../../src/pool.ts";
import { MoneyWatch, type OfferAnswerer } from "../../../src/runner/negotiation/money-watch.ts";
import { openSqliteLedger } from "../../../src/state/sqlite-ledger.ts";
import type { Ledger } from "../../../src/state/types.ts";
import { type PayingService, startPayingService } from "../../support/paying-service.ts";
import { agentConfig, telemetryFixture } from "../../support/runner-units.ts";

/**
 * What the runner knows it was paid, against a stand-in for how the real service pays:
 * the release is a new transaction nobody shows the agent, the job keeps pointing at an
 * escrow without a payee, and the agent's total_earned_usd grows.
 */

const closers: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

const AGENT = "agent_aaaa0001";
const RESULT = { success: true, output: "done", tokensUsed: 1, model: "m" };

async function service(): Promise<{ paying: PayingService; client: MarketplaceClient }> {
  const paying = await startPayingService();
  const pool = createSharedPool({ connections: 2 });
  closers.push(
    () => paying.close(),
    () => pool.close(),
  );
  const client = new MarketplaceClient({ baseUrl: paying.url, dispatcher: pool, maxAttempts: 1 });
  return { paying, client };
}

/** A MoneyWatch over the service for one agent (as a restart builds it anew), and what it tells. */
function watch(client: MarketplaceClient, ledger: Ledger) {
  const fixture = telemetryFixture(agentConfig({ name: "Payee" }));
  const agent: OfferAnswerer = {
    agentId: AGENT,
    telemetry: fixture.telemetry,
    answerOffers: async () => undefined,
  };
  const money = new MoneyWatch({
    client,
    negotiation: new NegotiationApi(client.transport),
    ledger,
    logger: silentLogger(),
    agents: () => [agent],
    offersPossible: () => false,
  });
  const paid = async () =>
    (
      await fixture.metrics.registry.getSingleMetricAsString("bazaar_runner_earnings_usd_total")
    ).match(/stage="paid"} ([\d.e-]+)/)?.[1];
  return { money, telemetry: fixture.telemetry, paid };
}

/** A result the marketplace accepted, in the ledger and announced to the watch. */
async function accepted(ledger: Ledger, money: MoneyWatch, jobId: string): Promise<void> {
  await ledger.recordResult(AGENT, jobId, RESULT);
  await ledger.markAccepted(AGENT, jobId);
  money.expectPayment(jobId, AGENT);
}

describe("reading what the service paid", () => {
  it("attributes each rise of total_earned_usd to the job whose sign-off caused it, by the quality rule", async () => {
    const { paying, client } = await service();
    const ledger = openSqliteLedger({ path: ":memory:" });
    const w = watch(client, ledger);
    paying.submitted("job_00000001", AGENT, 0.4);
    // A counter-offer accepted at 0.2: the service still pays on the bid's 0.3.
    paying.submitted("job_00000002", AGENT, 0.3, 0.2);
    paying.submitted("job_00000003", AGENT, 0.5);
    for (const job of ["job_00000001", "job_00000002", "job_00000003"])
      await accepted(ledger, w.money, job);

    await w.money.poll();
    expect(w.telemetry.stats.view.earnings.paidUsd).toBe(0); // nobody signed off yet

    expect(paying.complete("job_00000001", 0.9)).toBe(0.4);
    expect(paying.complete("job_00000002", 0.49)).toBe(0.15);
    expect(paying.complete("job_00000003", 0.48)).toBe(0);
    await w.money.poll();
    expect(w.telemetry.stats.view.earnings.paidUsd).toBeCloseTo(0.55, 9);
    expect(Number(await w.paid())).toBeCloseTo(0.55, 9);
    expect(await ledger.payment("job_00000001")).toMatchObject({
      amountUsd: 0.4,
      outcome: "released",
    });
    expect(await ledger.payment("job_00000002")).toMatchObject({
      amountUsd: 0.15,
      outcome: "partial",
    });
    expect(await ledger.payment("job_00000003")).toMatchObject({
      amountUsd: 0,
      outcome: "refunded",
    });
    expect((await ledger.earnedSeen(AGENT))?.usd).toBeCloseTo(0.55, 9);
    const timeline = w.telemetry.stats.view;
    expect(timeline.earnings.paidUsd).toBeCloseTo(paying.agent(AGENT).total_earned_usd, 9);

    // Nothing more to read: another poll counts nothing again.
    await w.money.poll();
    expect(w.telemetry.stats.view.earnings.paidUsd).toBeCloseTo(0.55, 9);
  });

  it("counts a release once total_earned_usd shows it, never twice and none missed across a restart", async () => {
    const { paying, client } = await service();
    const ledger = openSqliteLedger({ path: ":memory:" });
    const first = watch(client, ledger);
    paying.submitted("job_00000011", AGENT, 0.2);
    paying.submitted("job_00000012", AGENT, 0.3);
    paying.submitted("job_00000013", AGENT, 0.1);
    for (const job of ["job_00000011", "job_00000012", "job_00000013"])
      await accepted(ledger, first.money, job);
    paying.complete("job_00000011", 1);
    await first.money.poll();
    expect(first.telemetry.stats.view.earnings.paidUsd).toBeCloseTo(0.2, 9);

    // Released, but the total is not grown yet: not counted until it is.
    paying.complete("job_00000012", 0.8, { bumpTotal: false });
    await first.money.poll();
    expect(first.telemetry.stats.view.earnings.paidUsd).toBeCloseTo(0.2, 9);

    // A restart (a new watch over the same ledger): the unpaid results come from the ledger.
    const second = watch(client, ledger);
    paying.catchUpTotals();
    paying.complete("job_00000013", 0.75);
    // Out of the newest-100 listing: found by looking the job up.
    paying.hide("job_00000013");
    await second.money.poll();
    expect(second.telemetry.stats.view.earnings.paidUsd).toBeCloseTo(0.4, 9);
    expect(await ledger.paidTotals(AGENT)).toEqual({ jobs: 3, paidUsd: expect.closeTo(0.6, 9) });
    // The first one again (a replica, or a watch that still had it): counts nothing.
    await first.money.poll();
    await second.money.poll();
    expect(first.telemetry.stats.view.earnings.paidUsd).toBeCloseTo(0.2, 9);
    expect(second.telemetry.stats.view.earnings.paidUsd).toBeCloseTo(0.4, 9);
    // The payments on record are where "paid" starts after a restart.
    expect((await ledger.paidTotals(AGENT)).paidUsd).toBeCloseTo(
      paying.agent(AGENT).total_earned_usd,
      9,
    );
  });

  it("a release from before the total was first accounted for, or whose growth never shows, is not left waiting", async () => {
    const { paying, client } = await service();
    const ledger = openSqliteLedger({ path: ":memory:" });
    const w = watch(client, ledger);
    for (const job of ["job_00000021", "job_00000022", "job_00000023"]) {
      paying.submitted(job, AGENT, 0.1);
      await accepted(ledger, w.money, job);
    }
    paying.complete("job_00000021", 0.9);
    await w.money.poll(); // the first account of the agent's total
    expect(w.telemetry.stats.view.earnings.paidUsd).toBeCloseTo(0.1, 9);
    // Signed off (and inside the total) before that first account, read only now.
    paying.complete("job_00000022", 0.9, {
      bumpTotal: false,
      at: new Date(Date.now() - 10 * 60_000),
    });
    // Released two hours ago, and the total never grew by it.
    paying.complete("job_00000023", 0.9, {
      bumpTotal: false,
      at: new Date(Date.now() - 2 * 3_600_000),
    });
    await w.money.poll();
    expect(w.telemetry.stats.view.earnings.paidUsd).toBeCloseTo(0.3, 9);
    expect(await ledger.paidTotals(AGENT)).toEqual({ jobs: 3, paidUsd: expect.closeTo(0.3, 9) });
  });
});

describe("the sign-off beside the quality gate's prediction", () => {
  it("records the poster's quality score and the payment in the job's outcome", async () => {
    const { paying, client } = await service();
    const ledger = openSqliteLedger({ path: ":memory:" });
    const w = watch(client, ledger);
    // What the gate predicted before delivery (job-execution.ts writes it).
    await ledger.noteOutcome(AGENT, "job_00000031", {
      predictedQuality: 0.62,
      predictionReasons: ["submit-with-note (predicted 0.62 before delivery)"],
      llmCostUsd: 0.002,
    });
    paying.submitted("job_00000031", AGENT, 0.4);
    paying.submitted("job_00000032", AGENT, 0.3);
    await accepted(ledger, w.money, "job_00000031");
    await accepted(ledger, w.money, "job_00000032");
    paying.complete("job_00000031", 0.55);
    paying.complete("job_00000032", 0.3);
    await w.money.poll();

    const outcomes = new Map((await ledger.outcomes(AGENT)).map((o) => [o.jobId, o]));
    expect(outcomes.get("job_00000031")).toMatchObject({
      predictedQuality: 0.62,
      llmCostUsd: 0.002,
      qualityScore: 0.55,
      paidUsd: 0.2,
    });
    expect(outcomes.get("job_00000032")).toMatchObject({ qualityScore: 0.3, paidUsd: 0 });
  });
});
