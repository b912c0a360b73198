import { afterEach, describe, expect, it } from "vitest";
import { createMetrics } from "../../src/metrics.ts";
import { Runner } from "../../src/runner/runner.ts";
import { openSqliteLedger } from "../../src/state/sqlite-ledger.ts";
import { ledgerWith } from "../support/ledger-with.ts";
import { getJob, runningAgents } from "../support/market-helpers.ts";
import { type Harness, postJob, startHarness } from "../support/runner-harness.ts";
import { recordingRounds } from "../support/runner-units.ts";
import { waitFor } from "../support/wait.ts";

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
    const ledger = openSqliteLedger({ path: ":memory:" });
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

  it("leaves out the jobs every agent decided at an earlier poll", async () => {
    h = await startHarness();
    const ledger = openSqliteLedger({ path: ":memory:" });
    const asked: string[][] = [];
    runner = await Runner.start({
      config: h.config,
      logger: h.logger,
      metrics: createMetrics({ processMetrics: false }),
      ledger: ledgerWith(ledger, {
        bidsOn: (jobIds) => {
          asked.push([...jobIds]);
          return ledger.bidsOn(jobIds);
        },
      }),
    });
    await runningAgents(runner, 3);
    const job = {
      title: "Code review, GraphQL schema design and anomaly detection",
      description: "A security code review, an OpenAPI schema, anomaly detection on a time series.",
      budget_usd: 5,
    };
    const url = h.marketplace.url;
    const first = await postJob(url, job);
    await waitFor("three bids", async () =>
      (await getJob(url, first!)).bids.length === 3 ? true : undefined,
    );
    const second = await postJob(url, job);
    await waitFor("three more bids", async () =>
      (await getJob(url, second!)).bids.length === 3 ? true : undefined,
    );
    // The first job is still listed (`posted`, with bids) when the second comes; every
    // agent decided it, so the second's round looks up the second alone.
    expect(asked.at(-1)).toEqual([second]);
  });
});
