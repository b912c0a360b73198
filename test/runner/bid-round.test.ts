import { afterEach, describe, expect, it } from "vitest";
import { createMetrics } from "../../src/metrics.ts";
import { Runner } from "../../src/runner/runner.ts";
import { createMemoryLedger } from "../../src/state/memory-ledger.ts";
import { getJob, runningAgents } from "../support/market-helpers.ts";
import { type Harness, postJob, startHarness } from "../support/runner-harness.ts";
import { waitFor } from "../support/wait.ts";
import { recordingRounds } from "./units.ts";

/** Decisions are made per round; the round's bids go out together and are written down in one ledger call. */
describe("bid rounds", () => {
  let h: Harness | undefined;
  let runner: Runner | undefined;
  afterEach(async () => {
    await runner?.stop();
    await h?.close();
    h = runner = undefined;
  });

  it("places every agent's bids of a poll and records them in one ledger write", async () => {
    h = await startHarness();
    const ledger = createMemoryLedger();
    const { ledger: counting, rounds } = recordingRounds(ledger);
    runner = await Runner.start({
      config: h.config,
      logger: h.logger,
      metrics: createMetrics({ processMetrics: false }),
      ledger: counting,
    });
    const agents = await runningAgents(runner, 3);
    // Two jobs every built-in agent bids on, posted together: one round of six bids.
    const job = {
      title: "Code review, GraphQL schema design and anomaly detection",
      description: "A security code review, an OpenAPI schema, anomaly detection on a time series.",
      budget_usd: 5,
    };
    const [a, b] = [await postJob(h.marketplace.url, job), await postJob(h.marketplace.url, job)];
    const url = h.marketplace.url;
    await waitFor("six bids", async () =>
      (await getJob(url, a!)).bids.length + (await getJob(url, b!)).bids.length === 6
        ? true
        : undefined,
    );
    await waitFor("the ledger write", () => rounds.flat().length === 6);
    expect(rounds.length).toBeLessThanOrEqual(2); // one round, unless the posts straddled a poll
    for (const id of Object.values(agents)) {
      expect(await ledger.hasBid(id, a!)).toBe(true);
      expect(await ledger.hasBid(id, b!)).toBe(true);
    }
  });
});
