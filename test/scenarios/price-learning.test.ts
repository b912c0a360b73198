import { afterEach, describe, expect, it } from "vitest";
import type { Runner } from "../../src/runner/runner.ts";
import { SCHEMA_JOB } from "../support/fixtures.ts";
import { award, runningAgents, waitForBid } from "../support/market-helpers.ts";
import { placeBidOk, registerAgent } from "../support/marketplace-requests.ts";
import { api as rawApi } from "../support/raw-http.ts";
import { type Harness, postJob, startHarness } from "../support/runner-harness.ts";
import { waitFor } from "../support/wait.ts";

/** The agent's outcome record of one job, once `ready` says it holds what is awaited. */
function outcomeOf(runner: Runner, agentId: string, jobId: string, ready: (o: object) => boolean) {
  return waitFor(`the outcome of ${jobId}`, async () => {
    const found = (await runner.ledger.outcomes(agentId)).find((o) => o.jobId === jobId);
    return found && ready(found) ? found : undefined;
  });
}

/**
 * What the price learner learns from reaches the ledger from the places that see it: the
 * bid's price basis when it is placed, `won` when the award is ours, `lost` when the
 * stake watch sees another bid selected.
 */
describe("price learning's facts, from a running runner", () => {
  let h: Harness | undefined;
  afterEach(async () => {
    await h?.close();
    h = undefined;
  });

  it("records each bid's class and multiplier, then won or lost as the awards come", async () => {
    h = await startHarness({ env: { AGENT_PRICING: "adaptive" } });
    const runner = await h.startRunner();
    const architect = (await runningAgents(runner, 3)).SchemaArchitect!;
    const url = h.marketplace.url;

    const ours = await postJob(url, SCHEMA_JOB);
    const theirs = await postJob(url, { ...SCHEMA_JOB, title: `${SCHEMA_JOB.title} (again)` });
    const ourBid = await waitForBid(url, ours, architect);
    await waitForBid(url, theirs, architect);

    const placed = await outcomeOf(runner, architect, ours, (o) => "multiplier" in o);
    expect(placed).toMatchObject({ result: "pending", priceUsd: ourBid.price_usd });
    expect(placed.jobClass).toEqual(expect.any(String));
    expect(placed.multiplier).toBeGreaterThan(0);

    // A stranger's bid wins the second job; ours wins the first.
    const a = rawApi(url);
    const stranger = await registerAgent(a, { capabilities: { schema_design: 0.9 } });
    const strangerBid = await placeBidOk(a, theirs, { agent_id: stranger, price_usd: 0.01 });
    await award(url, theirs, strangerBid);
    await award(url, ours, ourBid.bid_id);

    const won = await outcomeOf(
      runner,
      architect,
      ours,
      (o) => "result" in o && o.result === "won",
    );
    expect(won.multiplier).toBe(placed.multiplier);
    const lost = await outcomeOf(
      runner,
      architect,
      theirs,
      (o) => "result" in o && o.result === "lost",
    );
    expect(lost.jobClass).toEqual(expect.any(String));
  });
});
