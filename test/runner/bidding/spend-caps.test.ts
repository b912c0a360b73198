import { describe, expect, it } from "vitest";
import { SpendCaps } from "../../../src/runner/bidding/spend-caps.ts";
import { openSqliteLedger } from "../../../src/state/sqlite-ledger.ts";

/** What today's caps leave an agent: the room the capacity ranking fits jobs' costs into. */
describe("what the spend caps leave", () => {
  const noon = Date.parse("2026-03-01T12:00:00Z");

  it("is the smaller of the agent's and the runner's room, never below 0", async () => {
    const ledger = openSqliteLedger({ path: ":memory:" });
    const caps = new SpendCaps(ledger, { agentCapUsd: 0.5, runnerCapUsd: 0.8 }, () => noon);
    expect(await caps.left("file:A")).toBe(0.5);
    await caps.record("file:A", 0.2);
    expect(await caps.left("file:A")).toBeCloseTo(0.3);
    // Another agent's spend counts against the runner's cap only.
    await caps.record("file:B", 0.45);
    expect(await caps.left("file:A")).toBeCloseTo(0.15);
    expect(await caps.left("file:B")).toBeCloseTo(0.05);
    await caps.record("file:B", 1);
    expect(await caps.left("file:A")).toBe(0);
    await ledger.close();
  });

  it("is undefined with no cap set, and looks nothing up", async () => {
    let lookups = 0;
    const ledger = {
      addSpend: async () => undefined,
      spendOn: async () => {
        lookups++;
        return 0;
      },
    };
    const caps = new SpendCaps(ledger, { agentCapUsd: undefined, runnerCapUsd: undefined });
    expect(await caps.left("file:A")).toBeUndefined();
    expect(lookups).toBe(0);
  });
});
