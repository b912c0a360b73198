import { afterEach, describe, expect, it } from "vitest";
import { SCHEMA_JOB } from "../support/fixtures.ts";
import { runningAgents, waitForBid } from "../support/market-helpers.ts";
import { POSTER } from "../support/marketplace-requests.ts";
import { api as rawApi } from "../support/raw-http.ts";
import { type Harness, postJob as postFiller, startHarness } from "../support/runner-harness.ts";
import { SECRET_TEST_MNEMONIC } from "../support/test-secrets.ts";
import { waitFor } from "../support/wait.ts";
import { signIn } from "../support/wallet-auth.ts";

/**
 * Listings hold the newest 100 jobs only: a counter-offer on a bid of ours on an older
 * job is in no `negotiating` listing. The runner finds it by looking the job up.
 */
describe("jobs with 100 newer ones behind them", () => {
  let h: Harness | undefined;
  afterEach(async () => {
    await h?.close();
    h = undefined;
  });

  it("answers a counter-offer on a bid of ours on a job no listing shows", async () => {
    h = await startHarness({ env: { AGENT_WALLET_MNEMONIC: SECRET_TEST_MNEMONIC } });
    const runner = await h.startRunner();
    const architect = (await runningAgents(runner, 3)).SchemaArchitect!;
    const a = rawApi(h.marketplace.url);
    const posted = await a.req("POST", "/api/jobs", {
      ...SCHEMA_JOB,
      poster_id: "older_poster",
      poster_wallet: POSTER.address,
    });
    const jobId = (posted.json as { job_id: string }).job_id;
    const bid = await waitForBid(h.marketplace.url, jobId, architect);
    for (let i = 0; i < 100; i++)
      await postFiller(h.marketplace.url, {
        title: `Translate brochure ${i}`,
        description: "Marketing copy into Finnish.",
        budget_usd: 1,
      });
    const countered = await a.req(
      "POST",
      `/api/bids/${bid.bid_id}/counter`,
      { new_price: 0.03, message: "How about this?", by: "poster" },
      await signIn(a, POSTER),
    );
    expect(countered.status).toBe(200);
    const negotiating = await a.req("GET", "/api/jobs?status=negotiating");
    expect((negotiating.json as { jobs: { job_id: string }[] }).jobs).toEqual([]);

    const answered = await waitFor("the counter accepted", async () => {
      const res = await a.req("GET", `/api/jobs/${jobId}/bids`);
      const b = (res.json as { bids: { bid_id: string; status: string }[] }).bids.find(
        (x) => x.bid_id === bid.bid_id,
      );
      return b?.status === "counter_accepted" ? b : undefined;
    });
    expect(answered.status).toBe("counter_accepted");
  });
});
