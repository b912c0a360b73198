import { afterEach, describe, expect, it } from "vitest";
import type { Runner } from "../../src/runner/runner.ts";
import { SCHEMA_JOB } from "../support/fixtures.ts";
import { award, runningAgents, waitForBid, waitForResult } from "../support/market-helpers.ts";
import { type Harness, postJob, startHarness } from "../support/runner-harness.ts";
import { waitFor } from "../support/wait.ts";

function view(runner: Runner, type: string) {
  const worker = runner.workers.find((w) => w.spec.config.agent_type === type);
  if (!worker) throw new Error(`no ${type} worker`);
  return worker.stats.view;
}

describe("the runner's figures", () => {
  let h: Harness;
  afterEach(async () => {
    await h?.close();
  });

  it("says why each agent did not bid on a job nobody can do", async () => {
    h = await startHarness();
    const runner = await h.startRunner();
    await runningAgents(runner, 3);
    const poem = await postJob(h.marketplace.url, {
      title: "Write a poem",
      description: "Twelve lines about the sea.",
      budget_usd: 1,
    });
    const lacking = await postJob(h.marketplace.url, {
      ...SCHEMA_JOB,
      required_capabilities: ["translation"],
    });
    const decisions = await waitFor("three decisions on each job", () => {
      const poemDecisions = runner.decisions(poem);
      const lackingDecisions = runner.decisions(lacking);
      return poemDecisions.length === 3 && lackingDecisions.length === 3
        ? { poem: poemDecisions, lacking: lackingDecisions }
        : undefined;
    });
    expect(decisions.poem.map((d) => [d.outcome, d.reason]).sort()).toEqual([
      ["skip", "no_keyword"],
      ["skip", "no_keyword"],
      ["skip", "no_keyword"],
    ]);
    expect(decisions.lacking.every((d) => d.reason === "capability")).toBe(true);
    expect(decisions.lacking[0]?.detail).toMatch(/capability translation is 0, below/);
    expect(runner.decisions().length).toBe(6);
  });

  it("keeps bids, wins, results and earnings across a restart, agreeing with the ledger", async () => {
    h = await startHarness();
    const first = await h.startRunner();
    const ids = await runningAgents(first, 3);
    const jobId = await postJob(h.marketplace.url, SCHEMA_JOB);
    const bid = await waitForBid(h.marketplace.url, jobId, ids.SchemaArchitect);
    await award(h.marketplace.url, jobId, bid.bid_id);
    await waitForResult(h.marketplace.url, jobId);
    await waitFor(
      "the result counted",
      () => view(first, "schema_architect").resultsAccepted === 1,
    );
    const before = { ...view(first, "schema_architect") };
    expect(before).toMatchObject({ bidsPlaced: 1, bidsWon: 1, resultsAccepted: 1 });
    expect(before.earnings.bidUsd).toBe(bid.price_usd);
    expect(before.earnings.wonUsd).toBe(bid.price_usd);
    await first.stop();

    const second = await h.startRunner();
    await runningAgents(second, 3);
    const after = view(second, "schema_architect");
    expect(after).toMatchObject({
      bidsPlaced: 1,
      bidsWon: 1,
      resultsAccepted: 1,
      resultsFailed: 0,
      earnings: { bidUsd: bid.price_usd, wonUsd: bid.price_usd, paidUsd: 0 },
    });
    const ledger = (await second.snapshot()).ledger;
    const agents = (await second.snapshot()).agents;
    expect(agents.reduce((n, a) => n + a.bidsPlaced, 0)).toBe(ledger?.bids);
    expect(agents.reduce((n, a) => n + a.bidsWon, 0)).toBe(ledger?.won);
  });
});
