import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createMetrics, type Metrics } from "../../src/metrics.ts";
import { StaleEpochError } from "../../src/state/fence.ts";
import type { JobOutcomePatch } from "../../src/state/outcomes.ts";
import type { Ledger, LedgerResult } from "../../src/state/types.ts";

/** A clock that moves one second per reading, so every write has its own timestamp. */
export function fakeClock(start = Date.parse("2026-01-01T00:00:00.000Z")): () => number {
  let t = start;
  return () => {
    t += 1000;
    return t;
  };
}

export interface OpenOptions {
  now: () => number;
  metrics?: Metrics;
}

/** Opens a fresh, empty ledger of the backend under test. */
export type OpenLedger = (options: OpenOptions) => Promise<Ledger>;

const RESULT: LedgerResult = {
  success: true,
  output: "the answer",
  tokensUsed: 42,
  model: "test-model",
};

async function metricValue(
  metrics: Metrics,
  name: string,
  labels: Record<string, string> = {},
): Promise<number> {
  const metric = (await metrics.registry.getMetricsAsJSON()).find((m) => m.name === name);
  const values = (metric?.values ?? []) as Array<{
    value: number;
    labels: Record<string, string | number>;
  }>;
  const hit = values.find((v) => Object.entries(labels).every(([k, want]) => v.labels[k] === want));
  return hit?.value ?? 0;
}

/** The one behaviour every ledger backend must have. */
export function ledgerContract(name: string, open: OpenLedger): void {
  describe(`ledger contract: ${name}`, () => {
    let ledger: Ledger;
    let now: () => number;

    beforeEach(async () => {
      now = fakeClock();
      ledger = await open({ now });
    });
    afterEach(async () => {
      await ledger.close();
    });

    it("knows a bid only after it is recorded, with its id and price", async () => {
      expect(await ledger.hasBid("a1", "j1")).toBe(false);
      expect(await ledger.get("a1", "j1")).toBeUndefined();
      await ledger.recordBid("a1", "j1", { bidId: "b1", priceUsd: 1.25 });
      expect(await ledger.hasBid("a1", "j1")).toBe(true);
      expect(await ledger.hasBid("a1", "j2")).toBe(false);
      const entry = await ledger.get("a1", "j1");
      expect(entry).toMatchObject({ agentId: "a1", jobId: "j1", bidId: "b1", bidPriceUsd: 1.25 });
      expect(entry?.executionAttempts).toBe(0);
      expect(entry?.submitAttempts).toBe(0);
      expect(Date.parse(entry?.bidAt ?? "")).toBeGreaterThan(0);
      expect(entry?.updatedAt).toBe(entry?.bidAt);
      expect(entry?.wonAt).toBeUndefined();
      expect(entry?.result).toBeUndefined();
    });

    it("records a round of bids in one call, each as recordBid would", async () => {
      await ledger.recordBid("a1", "j0", { bidId: "b0", priceUsd: 0.5 });
      await ledger.recordBids([
        { agentId: "a1", jobId: "j1", bidId: "b1", priceUsd: 1.25 },
        { agentId: "a2", jobId: "j1", bidId: "b2", priceUsd: 2 },
        { agentId: "a1", jobId: "j2", bidId: "b3", priceUsd: 0 },
      ]);
      expect(await ledger.hasBid("a1", "j1")).toBe(true);
      expect(await ledger.hasBid("a2", "j1")).toBe(true);
      expect(await ledger.hasBid("a2", "j2")).toBe(false);
      expect(await ledger.get("a2", "j1")).toMatchObject({ bidId: "b2", bidPriceUsd: 2 });
      expect(await ledger.get("a1", "j2")).toMatchObject({ bidId: "b3", bidPriceUsd: 0 });
      expect((await ledger.summary()).bids).toBe(4);
      await ledger.recordBids([]);
      expect((await ledger.summary()).entries).toBe(4);
    });

    it("writes no bid of a round that holds a bad record", async () => {
      await expect(
        ledger.recordBids([
          { agentId: "a1", jobId: "j1", bidId: "b1", priceUsd: 1 },
          { agentId: "a2", jobId: "j1", bidId: "b2", priceUsd: -1 },
        ]),
      ).rejects.toThrow(/price/);
      await expect(
        ledger.recordBids([{ agentId: "", jobId: "j1", bidId: "b1", priceUsd: 1 }]),
      ).rejects.toThrow(/agentId/);
      expect((await ledger.summary()).entries).toBe(0);
    });

    it("tells which agents have a bid on each job, in one call", async () => {
      expect(await ledger.bidsOn([])).toEqual(new Map());
      await ledger.recordBids([
        { agentId: "a1", jobId: "j1", bidId: "b1", priceUsd: 1 },
        { agentId: "a2", jobId: "j1", bidId: "b2", priceUsd: 1 },
        { agentId: "a2", jobId: "j3", bidId: "b3", priceUsd: 1 },
      ]);
      await ledger.recordResult("a1", "j2", RESULT); // an entry without a bid
      expect(await ledger.bidsOn(["j1", "j2", "j3", "j4"])).toEqual(
        new Map([
          ["j1", new Set(["a1", "a2"])],
          ["j3", new Set(["a2"])],
        ]),
      );
      const many = Array.from({ length: 1200 }, (_, i) => `x${i}`);
      expect(await ledger.bidsOn([...many, "j3"])).toEqual(new Map([["j3", new Set(["a2"])]]));
    });

    it("records a win once, keeping the first time and the bid", async () => {
      await ledger.recordBid("a1", "j1", { bidId: "b1", priceUsd: 2 });
      await ledger.recordWon("a1", "j1");
      const first = await ledger.get("a1", "j1");
      expect(first?.wonAt).toBeDefined();
      await ledger.recordWon("a1", "j1");
      const second = await ledger.get("a1", "j1");
      expect(second?.wonAt).toBe(first?.wonAt);
      expect(second).toMatchObject({ bidId: "b1", bidPriceUsd: 2 });
      expect(Date.parse(second?.updatedAt ?? "")).toBeGreaterThan(
        Date.parse(first?.updatedAt ?? ""),
      );
    });

    it("counts execution starts: 1, then 2", async () => {
      await ledger.recordWon("a1", "j1");
      expect(await ledger.startExecution("a1", "j1")).toBe(1);
      const first = await ledger.get("a1", "j1");
      expect(await ledger.startExecution("a1", "j1")).toBe(2);
      const second = await ledger.get("a1", "j1");
      expect(second?.executionAttempts).toBe(2);
      expect(Date.parse(second?.executionStartedAt ?? "")).toBeGreaterThan(
        Date.parse(first?.executionStartedAt ?? ""),
      );
    });

    it("gives every concurrent execution start its own number", async () => {
      const counts = await Promise.all(
        [1, 2, 3, 4, 5].map(() => ledger.startExecution("a1", "j-race")),
      );
      expect([...counts].sort()).toEqual([1, 2, 3, 4, 5]);
      expect((await ledger.get("a1", "j-race"))?.executionAttempts).toBe(5);
    });

    it("lists recorded results as pending, oldest first, filtered by agent", async () => {
      await ledger.recordResult("a2", "j3", RESULT);
      await ledger.recordResult("a1", "j1", { ...RESULT, output: "second" });
      const failed: LedgerResult = {
        success: false,
        output: "",
        tokensUsed: 0,
        model: "m",
        error: "llm budget spent",
      };
      await ledger.recordResult("a1", "j2", failed);
      await ledger.recordBid("a1", "j4", { bidId: "b4", priceUsd: 1 }); // no result: not pending

      const all = await ledger.pendingResults();
      expect(all.map((e) => `${e.agentId}/${e.jobId}`)).toEqual(["a2/j3", "a1/j1", "a1/j2"]);
      expect(all[0]?.result).toStrictEqual(RESULT);
      expect(all[2]?.result).toStrictEqual(failed);
      expect(all.every((e) => e.resultAt !== undefined)).toBe(true);

      const a1 = await ledger.pendingResults("a1");
      expect(a1.map((e) => e.jobId)).toEqual(["j1", "j2"]);
      expect(await ledger.pendingResults("nobody")).toEqual([]);
    });

    it("drops a result from pending once the marketplace accepted it", async () => {
      await ledger.recordResult("a1", "j1", RESULT);
      await ledger.recordResult("a1", "j2", RESULT);
      await ledger.markAccepted("a1", "j1");
      expect((await ledger.pendingResults()).map((e) => e.jobId)).toEqual(["j2"]);
      const accepted = await ledger.get("a1", "j1");
      expect(accepted?.acceptedAt).toBeDefined();
      expect(accepted?.result).toStrictEqual(RESULT);
      await ledger.markAccepted("a1", "j1");
      expect((await ledger.get("a1", "j1"))?.acceptedAt).toBe(accepted?.acceptedAt);
    });

    it("closes a result: no longer pending, output kept for the operator", async () => {
      await ledger.recordResult("a1", "j1", RESULT);
      await ledger.closeResult("a1", "j1", "marketplace answered 404");
      expect(await ledger.pendingResults()).toEqual([]);
      const entry = await ledger.get("a1", "j1");
      expect(entry?.result?.output).toBe("the answer");
      expect(entry?.closedReason).toBe("marketplace answered 404");
      expect(entry?.closedAt).toBeDefined();
      expect(entry?.acceptedAt).toBeUndefined();
    });

    it("records submit failures: attempts, next attempt time, last error; still pending", async () => {
      await ledger.recordResult("a1", "j1", RESULT);
      await ledger.recordSubmitFailure("a1", "j1", "HTTP 503", 1_800_000_000_000);
      await ledger.recordSubmitFailure("a1", "j1", "connection refused", 1_800_000_005_000);
      const entry = await ledger.get("a1", "j1");
      expect(entry).toMatchObject({
        submitAttempts: 2,
        nextSubmitAt: 1_800_000_005_000,
        lastSubmitError: "connection refused",
      });
      expect((await ledger.pendingResults()).map((e) => e.jobId)).toEqual(["j1"]);
    });

    it("keeps only the start of a huge submit error or close reason", async () => {
      await ledger.recordResult("a1", "j1", RESULT);
      await ledger.recordSubmitFailure(
        "a1",
        "j1",
        `<html>${"x".repeat(100_000)}`,
        1_800_000_000_000,
      );
      await ledger.closeResult("a1", "j1", "y".repeat(100_000));
      const entry = await ledger.get("a1", "j1");
      expect(entry?.lastSubmitError?.startsWith("<html>x")).toBe(true);
      expect(entry?.lastSubmitError?.length).toBeLessThanOrEqual(2001);
      expect(entry?.closedReason?.length).toBeLessThanOrEqual(2001);
    });

    it("summarises the entries", async () => {
      expect(await ledger.summary()).toEqual({
        backend: ledger.backend,
        entries: 0,
        bids: 0,
        won: 0,
        pendingResults: 0,
        accepted: 0,
        failed: 0,
        closed: 0,
      });
      await ledger.recordBid("a1", "j1", { bidId: "b1", priceUsd: 1 });
      await ledger.recordBid("a1", "j2", { bidId: "b2", priceUsd: 1 });
      await ledger.recordBid("a2", "j1", { bidId: "b3", priceUsd: 1 });
      for (const job of ["j1", "j2"]) {
        await ledger.recordWon("a1", job);
        await ledger.startExecution("a1", job);
        await ledger.recordResult("a1", job, RESULT);
      }
      await ledger.recordWon("a2", "j1");
      await ledger.recordResult("a2", "j1", RESULT);
      await ledger.recordResult("a3", "j9", RESULT);
      await ledger.markAccepted("a1", "j1");
      await ledger.closeResult("a2", "j1", "403");
      expect(await ledger.summary()).toEqual({
        backend: ledger.backend,
        entries: 4,
        bids: 3,
        won: 3,
        pendingResults: 2,
        accepted: 1,
        failed: 1,
        closed: 1,
      });
    });

    it("totals one agent's bids, wins and results, success apart from failure", async () => {
      expect(await ledger.agentTotals("a1")).toEqual({
        bids: 0,
        bidUsd: 0,
        won: 0,
        wonUsd: 0,
        succeeded: 0,
        failed: 0,
      });
      await ledger.recordBid("a1", "j1", { bidId: "b1", priceUsd: 0.25 });
      await ledger.recordBid("a1", "j2", { bidId: "b2", priceUsd: 0.5 });
      await ledger.recordBid("a1", "j3", { bidId: "b3", priceUsd: 1 });
      await ledger.recordBid("a2", "j1", { bidId: "b4", priceUsd: 9 });
      for (const job of ["j1", "j2", "j3"]) await ledger.recordWon("a1", job);
      await ledger.recordResult("a1", "j1", RESULT);
      await ledger.recordResult("a1", "j2", { ...RESULT, success: false, error: "no LLM" });
      await ledger.recordResult("a1", "j3", RESULT);
      await ledger.markAccepted("a1", "j1");
      await ledger.markAccepted("a1", "j2");
      await ledger.closeResult("a1", "j3", "404");
      expect(await ledger.agentTotals("a1")).toEqual({
        bids: 3,
        bidUsd: 1.75,
        won: 3,
        wonUsd: 1.75,
        succeeded: 1,
        failed: 2,
      });
      expect((await ledger.agentTotals("a2")).bids).toBe(1);
    });

    it("answers many agents' totals and payments asked at once as asked one at a time", async () => {
      await ledger.recordBid("a1", "j1", { bidId: "b1", priceUsd: 0.5 });
      await ledger.recordWon("a1", "j1");
      await ledger.recordResult("a1", "j1", RESULT);
      await ledger.markAccepted("a1", "j1");
      await ledger.recordBid("a2", "j1", { bidId: "b2", priceUsd: 2 });
      await ledger.recordBid("a2", "j2", { bidId: "b3", priceUsd: 1 });
      await ledger.recordPayment({
        jobId: "j1",
        agentId: "a1",
        amountUsd: 0.5,
        outcome: "released",
        qualityScore: 0.8,
      });
      const ids = ["a1", "a2", "nobody", "a1", ...Array.from({ length: 40 }, (_, i) => `x${i}`)];
      const oneByOne: unknown[] = [];
      for (const id of ids)
        oneByOne.push([await ledger.agentTotals(id), await ledger.paidTotals(id)]);
      const atOnce = await Promise.all(
        ids.map((id) => Promise.all([ledger.agentTotals(id), ledger.paidTotals(id)])),
      );
      expect(atOnce).toEqual(oneByOne);
      expect(atOnce[1]).toEqual([
        { bids: 2, bidUsd: 3, won: 0, wonUsd: 0, succeeded: 0, failed: 0 },
        { jobs: 0, paidUsd: 0 },
      ]);
      expect(atOnce[3]?.[1]).toEqual({ jobs: 1, paidUsd: 0.5 });
    });

    it("keeps different agents on the same job apart", async () => {
      await ledger.recordBid("a1", "j1", { bidId: "b1", priceUsd: 1 });
      await ledger.recordBid("a2", "j1", { bidId: "b2", priceUsd: 3 });
      await ledger.startExecution("a1", "j1");
      await ledger.recordResult("a2", "j1", RESULT);
      expect(await ledger.get("a1", "j1")).toMatchObject({
        bidId: "b1",
        bidPriceUsd: 1,
        executionAttempts: 1,
      });
      expect((await ledger.get("a1", "j1"))?.result).toBeUndefined();
      expect(await ledger.get("a2", "j1")).toMatchObject({
        bidId: "b2",
        bidPriceUsd: 3,
        executionAttempts: 0,
      });
      expect((await ledger.pendingResults()).map((e) => e.agentId)).toEqual(["a2"]);
      expect(await ledger.hasBid("a3", "j1")).toBe(false);
    });

    it("keeps ids verbatim, quotes and separators included", async () => {
      const agent = `agent "x"/1:'; DROP TABLE ledger; --`;
      const job = "job.$with\u0000odd chars 🚀";
      await ledger.recordBid(agent, job, { bidId: "b", priceUsd: 0 });
      expect(await ledger.hasBid(agent, job)).toBe(true);
      expect(await ledger.get(agent, job)).toMatchObject({
        agentId: agent,
        jobId: job,
        bidPriceUsd: 0,
      });
    });

    it("rejects bad input without writing", async () => {
      await expect(ledger.recordBid("", "j1", { bidId: "b", priceUsd: 1 })).rejects.toThrow(
        /agentId/,
      );
      await expect(ledger.recordBid("a1", "", { bidId: "b", priceUsd: 1 })).rejects.toThrow(
        /jobId/,
      );
      await expect(ledger.recordBid("a1", "j1", { bidId: "b", priceUsd: -1 })).rejects.toThrow(
        /price/,
      );
      await expect(
        ledger.recordBid("a1", "j1", { bidId: "b", priceUsd: Number.NaN }),
      ).rejects.toThrow(/price/);
      await expect(ledger.recordSubmitFailure("a1", "j1", "e", Number.NaN)).rejects.toThrow(
        /nextSubmitAt/,
      );
      await expect(
        ledger.recordResult("a1", "j1", { ...RESULT, tokensUsed: -5 }),
      ).rejects.toThrow();
      expect((await ledger.summary()).entries).toBe(0);
    });

    it("stores exactly the result fields", async () => {
      const extra = { ...RESULT, secretField: "not for the ledger" } as LedgerResult;
      await ledger.recordResult("a1", "j1", extra);
      expect((await ledger.get("a1", "j1"))?.result).toStrictEqual(RESULT);
    });

    it("refuses work after close", async () => {
      await ledger.close();
      await expect(ledger.get("a1", "j1")).rejects.toThrow();
      await expect(ledger.recordBid("a1", "j1", { bidId: "b", priceUsd: 1 })).rejects.toThrow();
    });

    it("gives each agent its own wallet index, the same one ever after", async () => {
      expect(await ledger.walletIndex("agent-a")).toBe(0);
      expect(await ledger.walletIndex("agent-b")).toBe(1);
      expect(await ledger.walletIndex("agent-a")).toBe(0);
      const many = await Promise.all(
        ["c", "d", "e", "f", "c", "d"].map((k) => ledger.walletIndex(`agent-${k}`)),
      );
      expect(many[0]).toBe(many[4]);
      expect(many[1]).toBe(many[5]);
      expect(new Set([0, 1, ...many]).size).toBe(6);
      await expect(ledger.walletIndex("")).rejects.toThrow(/agentKey/);
    });

    it("adds spend per agent and UTC day, and sums a day", async () => {
      await ledger.addSpend("2026-01-01", "a1", 0.25);
      await ledger.addSpend("2026-01-01", "a1", 0.5);
      await ledger.addSpend("2026-01-01", "a2", 1);
      await ledger.addSpend("2026-01-02", "a1", 2);
      expect(await ledger.spendOn("2026-01-01", "a1")).toBeCloseTo(0.75, 10);
      expect(await ledger.spendOn("2026-01-01")).toBeCloseTo(1.75, 10);
      expect(await ledger.spendOn("2026-01-02")).toBeCloseTo(2, 10);
      expect(await ledger.spendOn("2026-01-03", "a1")).toBe(0);
      await expect(ledger.addSpend("Jan 1", "a1", 1)).rejects.toThrow(/day/);
      await expect(ledger.addSpend("2026-01-01", "a1", -1)).rejects.toThrow(/spend/);
      await expect(ledger.addSpend("2026-01-01", "a1", Number.NaN)).rejects.toThrow(/spend/);
    });

    it("remembers each counter-offer answer once", async () => {
      const answer = {
        agentId: "a1",
        jobId: "j1",
        bidId: "b1",
        offerIndex: 0,
        action: "counter" as const,
        priceUsd: 0.2,
        reason: "the floor is $0.20",
      };
      expect(await ledger.offerAnswer("b1", 0)).toBeUndefined();
      expect(await ledger.recordOfferAnswer(answer)).toBe(true);
      expect(await ledger.recordOfferAnswer({ ...answer, action: "accept" })).toBe(false);
      const stored = await ledger.offerAnswer("b1", 0);
      expect(stored).toMatchObject(answer);
      expect(typeof stored?.answeredAt).toBe("string");
      expect(await ledger.offerAnswer("b1", 1)).toBeUndefined();
      expect(
        await ledger.recordOfferAnswer({
          ...answer,
          offerIndex: 1,
          action: "lapse",
          priceUsd: undefined,
        }),
      ).toBe(true);
      expect((await ledger.offerAnswer("b1", 1))?.priceUsd).toBeUndefined();
      await expect(ledger.recordOfferAnswer({ ...answer, offerIndex: -1 })).rejects.toThrow();
    });

    it("notes a key once", async () => {
      expect(await ledger.noteOnce("migrated:agent_1")).toBe(true);
      expect(await ledger.noteOnce("migrated:agent_1")).toBe(false);
      expect(await ledger.noteOnce("migrated:agent_2")).toBe(true);
    });

    describe("outcomes", () => {
      it("merges each (agent, job) record field by field, creating it on first use", async () => {
        expect(await ledger.outcomes("a1")).toEqual([]);
        await ledger.noteOutcome("a1", "j1", {
          jobClass: "summarise",
          multiplier: 1.2,
          priceUsd: 0.6,
          bidAt: "2026-01-01T00:00:05Z",
          result: "pending",
          predictedQuality: 0.8,
          predictionReasons: ["short", "clear"],
        });
        await ledger.noteOutcome("a1", "j1", { result: "won", counterOffers: 1, llmCostUsd: 0.01 });
        await ledger.noteOutcome("a1", "j1", { counterOffers: 2, llmCostUsd: 0.03 });
        await ledger.noteOutcome("a1", "j1", { qualityScore: null, paidUsd: 0 });
        const [record, ...rest] = await ledger.outcomes("a1");
        expect(rest).toEqual([]);
        const { updatedAt, ...fields } = record ?? { updatedAt: undefined };
        expect(fields).toStrictEqual({
          agentId: "a1",
          jobId: "j1",
          jobClass: "summarise",
          multiplier: 1.2,
          priceUsd: 0.6,
          bidAt: "2026-01-01T00:00:05.000Z",
          result: "won",
          counterOffers: 2,
          predictedQuality: 0.8,
          predictionReasons: ["short", "clear"],
          qualityScore: null,
          paidUsd: 0,
          llmCostUsd: 0.03,
        });
        expect(Date.parse(updatedAt ?? "")).toBeGreaterThan(0);
        // An undefined field is absent: it keeps the stored value; a score replaces null.
        await ledger.noteOutcome("a1", "j1", { priceUsd: undefined, qualityScore: 0.9 });
        expect((await ledger.outcomes("a1"))[0]).toMatchObject({
          priceUsd: 0.6,
          qualityScore: 0.9,
        });
        expect(await ledger.outcomes("a2")).toEqual([]);
      });

      it("lists one agent's records newest bid first, at most the limit", async () => {
        await ledger.noteOutcome("a1", "old", { bidAt: "2026-01-01T00:00:00.000Z" });
        await ledger.noteOutcome("a1", "none", { result: "lost" });
        await ledger.noteOutcome("a1", "new", { bidAt: "2026-01-03T00:00:00.000Z" });
        await ledger.noteOutcome("a1", "mid", { bidAt: "2026-01-02T00:00:00.000Z" });
        await ledger.noteOutcome("a2", "other", { bidAt: "2026-01-04T00:00:00.000Z" });
        // A later fact about the oldest bid does not make it newer.
        await ledger.noteOutcome("a1", "old", { result: "won" });
        const jobs = async (limit?: number) =>
          (await ledger.outcomes("a1", limit)).map((o) => o.jobId);
        expect(await jobs()).toEqual(["new", "mid", "old", "none"]);
        expect(await jobs(2)).toEqual(["new", "mid"]);
        expect(await jobs(0)).toEqual([]);
        await expect(ledger.outcomes("a1", -1)).rejects.toThrow(/limit/);
        await expect(ledger.outcomes("a1", 1.5)).rejects.toThrow(/limit/);
      });

      it("keeps every field of concurrent first notes on one record", async () => {
        await Promise.all([
          ledger.noteOutcome("a1", "j1", { priceUsd: 1 }),
          ledger.noteOutcome("a1", "j1", { result: "pending" }),
          ledger.noteOutcome("a1", "j1", { counterOffers: 1 }),
        ]);
        expect(await ledger.outcomes("a1")).toMatchObject([
          { jobId: "j1", priceUsd: 1, result: "pending", counterOffers: 1 },
        ]);
      });

      it("rejects bad input without writing, and stores only the record's fields", async () => {
        await expect(ledger.noteOutcome("", "j1", { priceUsd: 1 })).rejects.toThrow(/agentId/);
        await expect(ledger.noteOutcome("a1", "j1", { priceUsd: -1 })).rejects.toThrow();
        await expect(ledger.noteOutcome("a1", "j1", { bidAt: "yesterday" })).rejects.toThrow();
        await expect(
          ledger.noteOutcome("a1", "j1", { result: "maybe" as unknown as "won" }),
        ).rejects.toThrow();
        await expect(ledger.noteOutcome("a1", "j1", { predictedQuality: 2 })).rejects.toThrow();
        expect(await ledger.outcomes("a1")).toEqual([]);
        await ledger.noteOutcome("a1", "j1", {
          priceUsd: 1,
          stray: "x",
        } as unknown as JobOutcomePatch);
        const [record] = await ledger.outcomes("a1");
        expect(record).not.toHaveProperty("stray");
        expect(record).toMatchObject({ agentId: "a1", jobId: "j1", priceUsd: 1 });
      });
    });

    describe("payments", () => {
      it("records a job's payment once, keyed by job, and sums an agent's", async () => {
        const paid = {
          jobId: "j1",
          agentId: "a1",
          amountUsd: 0.5,
          outcome: "released" as const,
          qualityScore: 0.9,
        };
        expect(await ledger.payment("j1")).toBeUndefined();
        expect(await ledger.recordPayment(paid)).toBe(true);
        // A second attribution of the same job (a restart, another replica) writes nothing.
        expect(await ledger.recordPayment({ ...paid, amountUsd: 0.25 })).toBe(false);
        expect(await ledger.payment("j1")).toMatchObject({
          ...paid,
          recordedAt: expect.any(String),
        });
        await ledger.recordPayment({
          jobId: "j2",
          agentId: "a1",
          amountUsd: 0,
          outcome: "refunded",
          qualityScore: null,
        });
        await ledger.recordPayment({ ...paid, jobId: "j3", agentId: "a2", amountUsd: 0.1 });
        expect(await ledger.paidTotals("a1")).toEqual({ jobs: 2, paidUsd: 0.5 });
        expect(await ledger.paidTotals("nobody")).toEqual({ jobs: 0, paidUsd: 0 });
        await expect(
          ledger.recordPayment({ ...paid, jobId: "j4", amountUsd: -1 }),
        ).rejects.toThrow();
        expect(await ledger.payment("j4")).toBeUndefined();
      });

      it("lists an agent's accepted successful results without a payment, oldest first", async () => {
        for (const job of ["j1", "j2", "j3", "j4"]) await ledger.recordResult("a1", job, RESULT);
        await ledger.recordResult("a1", "failed", { ...RESULT, success: false });
        await ledger.recordResult("a2", "other", RESULT);
        for (const job of ["j2", "j1", "j3", "failed"]) await ledger.markAccepted("a1", job);
        await ledger.markAccepted("a2", "other");
        expect((await ledger.unpaidResults("a1")).map((e) => e.jobId)).toEqual(["j2", "j1", "j3"]);
        await ledger.recordPayment({
          jobId: "j1",
          agentId: "a1",
          amountUsd: 1,
          outcome: "released",
          qualityScore: 1,
        });
        expect((await ledger.unpaidResults("a1")).map((e) => e.jobId)).toEqual(["j2", "j3"]);
      });

      it("remembers each agent's last accounted total_earned_usd", async () => {
        expect(await ledger.earnedSeen("a1")).toBeUndefined();
        await ledger.setEarnedSeen("a1", 1.5);
        const first = await ledger.earnedSeen("a1");
        expect(first).toEqual({ usd: 1.5, since: expect.any(String) });
        await ledger.setEarnedSeen("a1", 2.25);
        await ledger.setEarnedSeen("a2", 0);
        // Since the first account, whatever came after.
        expect(await ledger.earnedSeen("a1")).toEqual({ usd: 2.25, since: first!.since });
        expect((await ledger.earnedSeen("a2"))?.usd).toBe(0);
        await expect(ledger.setEarnedSeen("a1", Number.NaN)).rejects.toThrow();
        expect((await ledger.earnedSeen("a1"))?.usd).toBe(2.25);
      });
    });

    describe("stakes", () => {
      it("lists open stakes: a live bid or a win without a result; not ended ones", async () => {
        await ledger.recordBid("a1", "j1", { bidId: "b1", priceUsd: 1 });
        await ledger.recordBid("a1", "j2", { bidId: "b2", priceUsd: 1 });
        await ledger.recordWon("a2", "j3");
        await ledger.recordBid("a1", "j4", { bidId: "b4", priceUsd: 1 });
        await ledger.recordResult("a1", "j4", RESULT);
        await ledger.recordBid("a1", "j5", { bidId: "b5", priceUsd: 1 });
        expect(await ledger.endStake("a1", "j5", "lost to another agent")).toBe(true);
        const open = (await ledger.openStakes()).map((e) => `${e.agentId}/${e.jobId}`).sort();
        expect(open).toEqual(["a1/j1", "a1/j2", "a2/j3"]);
        expect(await ledger.get("a1", "j5")).toMatchObject({
          stakeEndedReason: "lost to another agent",
        });
        expect(Date.parse((await ledger.get("a1", "j5"))?.stakeEndedAt ?? "")).toBeGreaterThan(0);
      });

      it("ends a stake once, and only for the bid it names (or a bid of unknown id)", async () => {
        await ledger.recordBid("a1", "j1", { bidId: "b1", priceUsd: 1 });
        expect(await ledger.endStake("a1", "j1", "cancelled", "b0")).toBe(false);
        expect(await ledger.hasBid("a1", "j1")).toBe(true);
        expect(await ledger.endStake("a1", "j1", "cancelled", "b1")).toBe(true);
        expect(await ledger.endStake("a1", "j1", "cancelled", "b1")).toBe(false);
        expect(await ledger.endStake("a1", "j9", "never bid")).toBe(false);
        await ledger.recordBid("a1", "j2", { bidId: "unknown", priceUsd: 1 });
        expect(await ledger.endStake("a1", "j2", "cancelled", "b7")).toBe(true);
      });

      it("a cancelled bid blocks no new one: not a bid any more; a new bid opens the stake again", async () => {
        await ledger.recordBids([
          { agentId: "a1", jobId: "j1", bidId: "b1", priceUsd: 1 },
          { agentId: "a2", jobId: "j1", bidId: "b2", priceUsd: 1 },
        ]);
        expect(await ledger.endStake("a1", "j1", "cancelled: agent_offline", "b1")).toBe(true);
        expect(await ledger.hasBid("a1", "j1")).toBe(false);
        expect([...((await ledger.bidsOn(["j1"])).get("j1") ?? [])]).toEqual(["a2"]);
        await ledger.recordBids([{ agentId: "a1", jobId: "j1", bidId: "b3", priceUsd: 1.5 }]);
        expect(await ledger.hasBid("a1", "j1")).toBe(true);
        const entry = await ledger.get("a1", "j1");
        expect(entry).toMatchObject({ bidId: "b3", bidPriceUsd: 1.5 });
        expect(entry?.stakeEndedAt).toBeUndefined();
        expect(entry?.stakeEndedReason).toBeUndefined();
        // The old bid's cancellation, noticed again (another replica), ends nothing now.
        expect(await ledger.endStake("a1", "j1", "cancelled: agent_offline", "b1")).toBe(false);
        await ledger.endStake("a2", "j1", "cancelled", "b2");
        await ledger.recordBid("a2", "j1", { bidId: "b4", priceUsd: 1 });
        expect((await ledger.openStakes()).map((e) => e.bidId).sort()).toEqual(["b3", "b4"]);
      });

      it("a fenced rebid after a cancellation is still fenced", async () => {
        await ledger.recordBid("a1", "j1", { bidId: "b1", priceUsd: 1 }, 1);
        await ledger.endStake("a1", "j1", "cancelled", "b1");
        await ledger.raiseFence("a1", 2);
        await expect(
          ledger.recordBids([{ agentId: "a1", jobId: "j1", bidId: "b2", priceUsd: 1, epoch: 1 }]),
        ).rejects.toBeInstanceOf(StaleEpochError);
        expect(await ledger.hasBid("a1", "j1")).toBe(false);
      });
    });

    describe("fencing by lease epoch", () => {
      const stale = (epoch: number, current: number) =>
        expect.objectContaining({ name: "StaleEpochError", epoch, current });
      /** One stamp, its refusal thrown. */
      const fenceJob = async (l: Ledger, agentId: string, jobId: string, epoch: number) => {
        const [refusal] = await l.fenceJobs([{ agentId, jobId, epoch }]);
        if (refusal) throw refusal;
      };

      it("stamps fenced writes with their epoch", async () => {
        await ledger.raiseFence("a1", 1);
        await fenceJob(ledger, "a1", "j1", 1);
        expect((await ledger.get("a1", "j1"))?.epoch).toBe(1);
        expect(await ledger.hasBid("a1", "j1")).toBe(false);
        await ledger.recordBid("a1", "j1", { bidId: "b1", priceUsd: 1 }, 1);
        await ledger.recordWon("a1", "j1", 1);
        expect(await ledger.startExecution("a1", "j1", 1)).toBe(1);
        await ledger.recordResult("a1", "j1", RESULT, 1);
        expect(await ledger.get("a1", "j1")).toMatchObject({ epoch: 1, bidId: "b1" });
      });

      it("refuses every write of an older epoch once a newer holder raised the fence", async () => {
        await ledger.raiseFence("a1", 1);
        await ledger.recordBid("a1", "j1", { bidId: "b1", priceUsd: 1 }, 1);
        await ledger.raiseFence("a1", 2);
        const refused = [
          fenceJob(ledger, "a1", "j2", 1),
          ledger.recordBid("a1", "j2", { bidId: "b2", priceUsd: 1 }, 1),
          ledger.recordWon("a1", "j1", 1),
          ledger.startExecution("a1", "j1", 1),
          ledger.recordResult("a1", "j1", RESULT, 1),
        ];
        for (const write of refused) {
          await expect(write).rejects.toBeInstanceOf(StaleEpochError);
        }
        await expect(ledger.recordResult("a1", "j1", RESULT, 1)).rejects.toEqual(stale(1, 2));
        const entry = await ledger.get("a1", "j1");
        expect(entry?.result).toBeUndefined();
        expect(entry?.executionAttempts).toBe(0);
        expect(await ledger.get("a1", "j2")).toBeUndefined();
        // The new holder writes; another agent's fence is its own.
        await ledger.recordResult("a1", "j1", RESULT, 2);
        await ledger.recordBid("a2", "j1", { bidId: "b3", priceUsd: 1 }, 1);
        expect((await ledger.get("a1", "j1"))?.result).toStrictEqual(RESULT);
      });

      it("fences a round of bids entry by entry; one stale entry writes none of the round", async () => {
        await ledger.raiseFence("a1", 2);
        await fenceJob(ledger, "a2", "j2", 3);
        await ledger.recordBids([
          { agentId: "a1", jobId: "j1", bidId: "b1", priceUsd: 1, epoch: 2 },
          { agentId: "a2", jobId: "j1", bidId: "b2", priceUsd: 1, epoch: 1 },
          { agentId: "a3", jobId: "j1", bidId: "b3", priceUsd: 1 },
        ]);
        expect(await ledger.get("a1", "j1")).toMatchObject({ bidId: "b1", epoch: 2 });
        expect(await ledger.get("a2", "j1")).toMatchObject({ bidId: "b2", epoch: 1 });
        expect((await ledger.get("a3", "j1"))?.epoch).toBeUndefined();
        // a1's fence (2) and a2's entry on j2 (3) are both newer than these bids.
        await expect(
          ledger.recordBids([
            { agentId: "a3", jobId: "j3", bidId: "b4", priceUsd: 1 },
            { agentId: "a1", jobId: "j3", bidId: "b5", priceUsd: 1, epoch: 1 },
          ]),
        ).rejects.toEqual(stale(1, 2));
        await expect(
          ledger.recordBids([
            { agentId: "a2", jobId: "j3", bidId: "b6", priceUsd: 1, epoch: 2 },
            { agentId: "a2", jobId: "j2", bidId: "b7", priceUsd: 1, epoch: 2 },
          ]),
        ).rejects.toEqual(stale(2, 3));
        expect(await ledger.bidsOn(["j2", "j3"])).toEqual(new Map());
        expect((await ledger.get("a2", "j2"))?.bidId).toBeUndefined();
        await expect(
          ledger.recordBids([{ agentId: "a1", jobId: "j4", bidId: "b8", priceUsd: 1, epoch: -1 }]),
        ).rejects.toThrow(/epoch/);
      });

      it("stamps a round's jobs in one call, each refused or stamped on its own", async () => {
        await ledger.raiseFence("a1", 2);
        await fenceJob(ledger, "a2", "j2", 3);
        const refusals = await ledger.fenceJobs([
          { agentId: "a1", jobId: "j1", epoch: 2 },
          { agentId: "a1", jobId: "j9", epoch: 1 },
          { agentId: "a2", jobId: "j1", epoch: 1 },
          { agentId: "a2", jobId: "j2", epoch: 2 },
          { agentId: "a3", jobId: "j1", epoch: 0 },
        ]);
        expect(refusals).toEqual([undefined, stale(1, 2), undefined, stale(2, 3), undefined]);
        expect((await ledger.get("a1", "j1"))?.epoch).toBe(2);
        expect(await ledger.get("a1", "j9")).toBeUndefined();
        expect((await ledger.get("a2", "j1"))?.epoch).toBe(1);
        expect((await ledger.get("a2", "j2"))?.epoch).toBe(3);
        expect((await ledger.get("a3", "j1"))?.epoch).toBe(0);
        // Stamping again under the same epoch is no conflict; bad input writes nothing.
        expect(await ledger.fenceJobs([{ agentId: "a1", jobId: "j1", epoch: 2 }])).toEqual([
          undefined,
        ]);
        await expect(
          ledger.fenceJobs([
            { agentId: "a4", jobId: "j1", epoch: 1 },
            { agentId: "a4", jobId: "j2", epoch: -1 },
          ]),
        ).rejects.toThrow(/epoch/);
        expect(await ledger.get("a4", "j1")).toBeUndefined();
        expect(await ledger.fenceJobs([])).toEqual([]);
      });

      it("raises many agents' fences asked at once, each refused or raised on its own", async () => {
        await ledger.raiseFence("a1", 3);
        await ledger.recordWon("a2", "open", 1);
        await ledger.recordResult("a2", "done", RESULT, 1);
        await ledger.markAccepted("a2", "done");
        const asked: Array<[string, number]> = [
          ["a1", 2],
          ["a2", 2],
          ["a3", 1],
          ["a1", 3],
          ...Array.from({ length: 40 }, (_, i): [string, number] => [`x${i}`, 1]),
        ];
        const outcomes = await Promise.all(
          asked.map(([agentId, epoch]) =>
            ledger.raiseFence(agentId, epoch).then(
              () => "raised",
              (error: unknown) => error,
            ),
          ),
        );
        expect(outcomes.slice(0, 4)).toEqual([stale(2, 3), "raised", "raised", "raised"]);
        expect(outcomes.slice(4).every((outcome) => outcome === "raised")).toBe(true);
        // a2's open entry carries the new epoch, its settled one keeps the old.
        expect((await ledger.get("a2", "open"))?.epoch).toBe(2);
        expect((await ledger.get("a2", "done"))?.epoch).toBe(1);
        // Each raised fence holds: an older write of that agent is refused.
        await expect(ledger.recordWon("a3", "j1", 0)).rejects.toEqual(stale(0, 1));
        await expect(ledger.recordWon("a2", "open", 1)).rejects.toEqual(stale(1, 2));
        // Bad input is refused for its caller alone.
        await expect(ledger.raiseFence("a4", -1)).rejects.toThrow(/epoch/);
      });

      it("refuses to lower a fence", async () => {
        await ledger.raiseFence("a1", 3);
        await ledger.raiseFence("a1", 3);
        await expect(ledger.raiseFence("a1", 2)).rejects.toEqual(stale(2, 3));
      });

      it("never lets an older epoch overwrite an entry a newer one wrote", async () => {
        // The newer holder wrote before the fence reached this entry's reader.
        await fenceJob(ledger, "a1", "j1", 5);
        await expect(fenceJob(ledger, "a1", "j1", 4)).rejects.toEqual(stale(4, 5));
        await expect(ledger.startExecution("a1", "j1", 4)).rejects.toBeInstanceOf(StaleEpochError);
        await fenceJob(ledger, "a1", "j2", 4);
        expect((await ledger.get("a1", "j1"))?.epoch).toBe(5);
      });

      it("stamps the agent's open entries when the fence rises, not settled ones", async () => {
        await ledger.recordWon("a1", "open", 1);
        await ledger.recordResult("a1", "done", RESULT, 1);
        await ledger.markAccepted("a1", "done");
        await ledger.recordWon("a2", "other", 1);
        await ledger.raiseFence("a1", 2);
        expect((await ledger.get("a1", "open"))?.epoch).toBe(2);
        expect((await ledger.get("a1", "done"))?.epoch).toBe(1);
        expect((await ledger.get("a2", "other"))?.epoch).toBe(1);
      });

      it("counts refused writes as stale_epoch", async () => {
        const metrics = createMetrics({ processMetrics: false });
        const measured = await open({ now, metrics });
        try {
          await measured.raiseFence("m1", 2);
          await expect(fenceJob(measured, "m1", "j1", 1)).rejects.toBeInstanceOf(StaleEpochError);
          expect(
            await metricValue(metrics, "bazaar_runner_ledger_operations_total", {
              operation: "fenceJobs",
              outcome: "stale_epoch",
            }),
          ).toBe(1);
        } finally {
          await measured.close();
        }
      });
    });

    it("counts writes and keeps the outbox gauge", async () => {
      const metrics = createMetrics({ processMetrics: false });
      const measured = await open({ now, metrics });
      try {
        await measured.recordResult("m1", "j1", RESULT);
        await measured.recordResult("m1", "j2", RESULT);
        await measured.markAccepted("m1", "j1");
        await expect(
          measured.recordBid("m1", "j1", { bidId: "b", priceUsd: -1 }),
        ).rejects.toThrow();
        expect(await measured.pendingResults()).toHaveLength(1);

        const counted = (operation: string, outcome: string) =>
          metricValue(metrics, "bazaar_runner_ledger_operations_total", { operation, outcome });
        expect(await counted("recordResult", "ok")).toBe(2);
        expect(await counted("markAccepted", "ok")).toBe(1);
        expect(await counted("recordBid", "error")).toBe(1);
        expect(await counted("recordBid", "ok")).toBe(0);
        await measured.recordBids([{ agentId: "m1", jobId: "j3", bidId: "b", priceUsd: 1 }]);
        expect(await counted("recordBids", "ok")).toBe(1);
        expect(await metricValue(metrics, "bazaar_runner_outbox_pending")).toBe(1);

        await measured.closeResult("m1", "j2", "404");
        await measured.summary();
        expect(await metricValue(metrics, "bazaar_runner_outbox_pending")).toBe(0);
      } finally {
        await measured.close();
      }
    });
  });
}
