import { afterEach, describe, expect, it } from "vitest";
import {
  CALIBRATION_BUCKETS,
  EarningsBook,
  losingForADay,
  performanceOf,
} from "../../../src/runner/telemetry/earnings.ts";
import { openSqliteLedger } from "../../../src/state/index.ts";
import type { JobOutcome, JobOutcomePatch, OutcomeStore } from "../../../src/state/outcomes.ts";
import type { Ledger } from "../../../src/state/types.ts";

const HOUR = 3_600_000;
const NOW = Date.parse("2026-12-06T12:30:00.000Z");

/** A ledger whose clock the test moves: each outcome's `updatedAt` is the time of its last note. */
function ledgerAt(start: number) {
  const clock = { now: start };
  const ledger = openSqliteLedger({ path: ":memory:", now: () => clock.now });
  return { ledger, clock };
}

describe("an agent's earnings from its outcomes", () => {
  const open: Ledger[] = [];
  afterEach(async () => {
    await Promise.all(open.splice(0).map((l) => l.close()));
  });

  /** Notes `patch` on job `jobId` of agent a1 at `hoursAgo` before NOW. */
  async function note(
    l: { ledger: Ledger; clock: { now: number } },
    jobId: string,
    hoursAgo: number,
    patch: JobOutcomePatch,
  ) {
    l.clock.now = NOW - hoursAgo * HOUR;
    await l.ledger.noteOutcome("a1", jobId, patch);
  }

  it("counts wins, quality, calibration and money from the records, each job in the hour of its latest fact", async () => {
    const l = ledgerAt(NOW);
    open.push(l.ledger);
    const bid = (hoursAgo: number) => ({
      priceUsd: 0.05,
      result: "pending" as const,
      bidAt: new Date(NOW - hoursAgo * HOUR).toISOString(),
    });
    // j1: bid, won, executed (cost 0.01), predicted 0.82, scored 0.9, paid 0.05 (2.5 h ago).
    await note(l, "j1", 5, bid(5));
    await note(l, "j1", 4, { result: "won" });
    await note(l, "j1", 3, { llmCostUsd: 0.01, predictedQuality: 0.82, predictionReasons: ["ok"] });
    await note(l, "j1", 2.5, { qualityScore: 0.9, paidUsd: 0.05 });
    // j2: executed without a "won" mark (the award seen only by its execution), scored 0.5,
    // half paid; predicted 0.85: the same bucket as j1.
    await note(l, "j2", 30, bid(30));
    await note(l, "j2", 29, { llmCostUsd: 0.02, predictedQuality: 0.85 });
    await note(l, "j2", 28, { qualityScore: 0.5, paidUsd: 0.025 });
    // j3: lost. j4: pending. j5: executed, predicted 0.3, scored 0.2, nothing paid.
    await note(l, "j3", 6, { ...bid(6), result: "lost" });
    await note(l, "j4", 1, bid(1));
    await note(l, "j5", 0.5, bid(0.5));
    await note(l, "j5", 0.25, { result: "won", llmCostUsd: 0.004, predictedQuality: 0.3 });
    await note(l, "j5", 0.1, { qualityScore: 0.2, paidUsd: 0 });
    // j6: won, scored without a prediction (no gate): in the mean score, not the pairs.
    await note(l, "j6", 2, { ...bid(2), result: "won" });
    await note(l, "j6", 1.5, { qualityScore: 0.7, paidUsd: 0.05 });

    const p = performanceOf(await l.ledger.outcomes("a1"), NOW);
    expect(p.window).toEqual({
      records: 6,
      limit: 500,
      oldestAt: new Date(NOW - 28 * HOUR).toISOString(),
    });
    expect(p.bids).toEqual({ won: 4, lost: 1, pending: 1, winRate: 0.8 });
    expect(p.quality.scored).toBe(4);
    expect(p.quality.mean).toBeCloseTo((0.9 + 0.5 + 0.2 + 0.7) / 4, 4);
    expect(p.quality.paired).toBe(3);
    expect(p.quality.meanPredicted).toBeCloseTo((0.82 + 0.85 + 0.3) / 3, 4);
    expect(p.quality.meanActual).toBeCloseTo((0.9 + 0.5 + 0.2) / 3, 4);
    expect(p.quality.meanAbsError).toBeCloseTo((0.08 + 0.35 + 0.1) / 3, 4);
    expect(p.quality.calibration).toHaveLength(CALIBRATION_BUCKETS);
    const filled = p.quality.calibration.filter((b) => b.count > 0);
    expect(filled).toEqual([
      { from: 0.3, to: 0.4, count: 1, meanPredicted: 0.3, meanActual: 0.2 },
      { from: 0.8, to: 0.9, count: 2, meanPredicted: 0.835, meanActual: 0.7 },
    ]);
    expect(p.money).toEqual({ jobs: 4, llmCostUsd: 0.034, paidUsd: 0.125, marginUsd: 0.091 });
    // j2 was settled 28 h ago: outside the last day.
    expect(p.lastDay).toMatchObject({ jobs: 3, llmCostUsd: 0.014, paidUsd: 0.1, marginUsd: 0.086 });
    // Hour by hour: j2 at 08:30 the day before, j1 at 10:00, j6 at 11:00, j5 at 12:24.
    expect(p.hourly.map((h) => [h.start.slice(0, 16), h.jobs, h.marginUsd])).toEqual([
      ["2026-12-05T08:00", 1, 0.005],
      ["2026-12-06T10:00", 1, 0.04],
      ["2026-12-06T11:00", 1, 0.05],
      ["2026-12-06T12:00", 1, -0.004],
    ]);
    expect(p.daily.map((d) => [d.start.slice(0, 10), d.jobs, d.paidUsd, d.llmCostUsd])).toEqual([
      ["2026-12-05", 1, 0.025, 0.02],
      ["2026-12-06", 3, 0.1, 0.014],
    ]);
    // The series add up to the totals: one computation, no second source.
    const sum = (points: typeof p.daily) =>
      Math.round(points.reduce((n, x) => n + x.marginUsd, 0) * 1e6) / 1e6;
    expect(sum(p.daily)).toBe(p.money.marginUsd);
    expect(sum(p.hourly)).toBe(p.money.marginUsd);
    expect(losingForADay(p)).toBeNull();
  });

  it("an agent with no records has no rates, empty buckets and zero money", () => {
    const p = performanceOf([], NOW);
    expect(p.bids.winRate).toBeNull();
    expect(p.quality.mean).toBeNull();
    expect(p.quality.meanAbsError).toBeNull();
    expect(p.quality.calibration.every((b) => b.count === 0 && b.meanActual === null)).toBe(true);
    expect(p.money).toEqual({ jobs: 0, llmCostUsd: 0, paidUsd: 0, marginUsd: 0 });
    expect(p.hourly).toEqual([]);
    expect(losingForADay(p)).toBeNull();
  });

  it("says an agent loses money once its last 24 hours cost more than they paid and its record reaches back a day", async () => {
    const l = ledgerAt(NOW);
    open.push(l.ledger);
    // A new agent: its first job cost money and awaits its sign-off. Not a loss yet.
    await note(l, "j1", 2, { result: "won", llmCostUsd: 0.03 });
    expect(losingForADay(performanceOf(await l.ledger.outcomes("a1"), NOW))).toBeNull();
    // Its record reaches back a day (a job paid 26 h ago), and the last day cost more than it paid.
    await note(l, "j0", 26, { result: "won", llmCostUsd: 0.001, paidUsd: 0.05 });
    await note(l, "j2", 3, { result: "won", llmCostUsd: 0.02, qualityScore: 0.3, paidUsd: 0 });
    const p = performanceOf(await l.ledger.outcomes("a1"), NOW);
    expect(p.money.marginUsd).toBeCloseTo(0.05 - 0.051, 6);
    expect(losingForADay(p)).toBe(
      "margin $-0.0500 over the last 24 h (paid $0.0000, LLM cost $0.0500, 2 job(s))",
    );
    // A payment in the last day that covers the cost: no longer losing.
    await note(l, "j3", 1, { result: "won", llmCostUsd: 0.001, paidUsd: 0.06 });
    expect(losingForADay(performanceOf(await l.ledger.outcomes("a1"), NOW))).toBeNull();
  });

  it("reads a bounded window of the newest bids, once per max age however often it is asked", async () => {
    const l = ledgerAt(NOW);
    open.push(l.ledger);
    for (let i = 0; i < 12; i += 1)
      await note(l, `j${String(i).padStart(2, "0")}`, 12 - i, {
        bidAt: new Date(NOW - (12 - i) * HOUR).toISOString(),
        result: "won",
        llmCostUsd: 0.001,
        paidUsd: 0.01,
      });
    const reads: number[] = [];
    const store: Pick<OutcomeStore, "outcomes"> = {
      outcomes: (agentId, limit) => {
        reads.push(limit ?? -1);
        return l.ledger.outcomes(agentId, limit);
      },
    };
    const clock = { now: NOW };
    const book = new EarningsBook({
      outcomes: store,
      maxAgeMs: 30_000,
      limit: 5,
      now: () => clock.now,
    });
    const asked = await Promise.all(Array.from({ length: 20 }, () => book.of("a1")));
    expect(reads).toEqual([5]);
    const p = asked[0]!;
    expect(asked.every((x) => x === p)).toBe(true);
    // The five newest bids only.
    expect(p.window.records).toBe(5);
    expect(p.window.oldestAt).toBe(new Date(NOW - 5 * HOUR).toISOString());
    expect(p.money).toEqual({ jobs: 5, llmCostUsd: 0.005, paidUsd: 0.05, marginUsd: 0.045 });
    clock.now += 29_999;
    await book.of("a1");
    expect(reads).toHaveLength(1);
    clock.now += 1;
    await book.of("a1");
    expect(reads).toHaveLength(2);
  });

  it("an unreadable ledger gives no figures, is said once, and is asked again after the max age", async () => {
    let fail = true;
    let reads = 0;
    const errors: string[] = [];
    const outcomes: JobOutcome[] = [{ agentId: "a1", jobId: "j1", result: "lost" }];
    const clock = { now: NOW };
    const book = new EarningsBook({
      outcomes: {
        outcomes: async () => {
          reads += 1;
          if (fail) throw new Error("ledger away");
          return outcomes;
        },
      },
      maxAgeMs: 60_000,
      now: () => clock.now,
      onError: (agentId, error) => errors.push(`${agentId}: ${(error as Error).message}`),
    });
    expect(await book.of("a1")).toBeNull();
    expect(await book.of("a1")).toBeNull();
    expect(reads).toBe(1);
    clock.now += 60_000;
    expect(await book.of("a1")).toBeNull();
    expect(reads).toBe(2);
    expect(errors).toEqual(["a1: ledger away"]);
    fail = false;
    clock.now += 60_000;
    expect((await book.of("a1"))?.bids).toEqual({ won: 0, lost: 1, pending: 0, winRate: 0 });
    // Failing again after a good read is said again.
    fail = true;
    clock.now += 60_000;
    await book.of("a1");
    expect(errors).toHaveLength(2);
  });
});
