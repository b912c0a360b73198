import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Browser, Page } from "playwright-core";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import {
  type RunningMarketplace,
  type StartMarketplaceOptions,
  startMarketplace,
} from "../../src/marketplace-server/index.ts";
import { browserSuiteName, hasChromium, launchChromium } from "../support/browser.ts";
import { startTestLlmServer, type TestLlmServer } from "../support/llm-server.ts";
import {
  type Api,
  api,
  newAccount,
  obj,
  placeBidOk,
  registerAgent,
  signIn,
  str,
} from "../support/marketplace-requests.ts";
import { WAIT_MS, waitFor } from "../support/wait.ts";

/**
 * The poster's page in Chromium against the embedded marketplace: a job posted with a
 * file goes through a bid placed as an agent would, a counter-offer and the agent's
 * answer, the award, the agent's result, the sign-off and the payment, without a reload.
 */

const suiteName = browserSuiteName("the poster page, end to end");

/** A file for the page's file input. */
interface FilePayload {
  name: string;
  mimeType: string;
  buffer: Buffer;
}

/** What the test LLM answers hosted execution: the JSON the service's executor asks for. */
const HOSTED_ANSWER = {
  summary: "Each dip falls on a public holiday.",
  key_findings: ["1 May", "25 December", "1 January"],
  details: { dips: 3 },
  confidence: 0.9,
  methodology: "Compared each day with the mean of its weekday.",
};

describe.skipIf(!hasChromium)(suiteName, () => {
  let browser: Browser;
  let market: RunningMarketplace | undefined;
  let llm: TestLlmServer | undefined;
  let dir: string | undefined;
  let page: Page | undefined;
  let errors: string[] = [];
  let loads = 0;

  beforeAll(async () => {
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
  });
  afterEach(async () => {
    await page?.close();
    await market?.close();
    await llm?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
    page = market = llm = dir = undefined;
  });

  /** The marketplace (with `options`) and the page on it, live, counting loads and errors. */
  async function openPage(
    options: Partial<StartMarketplaceOptions> = {},
  ): Promise<{ p: Page; a: Api; posterWallet: string }> {
    dir = await mkdtemp(join(tmpdir(), "bazaar-poster-page-"));
    market = await startMarketplace({
      port: 0,
      dbPath: join(dir, "marketplace.sqlite"),
      ...options,
    });
    const a = api(market.url);
    const p = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    page = p;
    errors = [];
    loads = 0;
    p.on("pageerror", (error) => errors.push(error.message));
    p.on("console", (message) => {
      if (message.type() === "error") errors.push(message.text());
    });
    p.on("load", () => loads++);
    await p.goto(`${market.url}/poster/`);
    // The page posts as the marketplace's page poster, whose wallet it shows.
    const posterWallet = str(obj((await a.req("GET", "/poster/identity")).json).wallet);
    await shows(p, "wallet", posterWallet);
    await p.locator('[data-testid="connection"][data-mode="live"]').waitFor();
    return { p, a, posterWallet };
  }

  /** Fills the post form and submits it; the job's id, once the page shows the job. */
  async function postThroughPage(
    p: Page,
    fields: { title: string; description: string; budget: string; file?: FilePayload },
  ): Promise<string> {
    const form = p.locator('[data-testid="post-form"]');
    await form.locator('[name="title"]').fill(fields.title);
    await form.locator('[name="description"]').fill(fields.description);
    await form.locator('[name="capabilities"]').fill("analysis");
    await form.locator('[name="budget"]').fill(fields.budget);
    if (fields.file) await form.locator('[name="files"]').setInputFiles(fields.file);
    await form.locator('button[type="submit"]').click();
    await shows(p, "job-title", fields.title);
    return waitFor("the job id in the address", () => new URL(p.url()).searchParams.get("job"));
  }

  /** The release (or refund) row of the payment table and the transaction it names. */
  async function paymentRow(p: Page, a: Api, wallet: string) {
    await shows(p, "payment", wallet);
    const text =
      (await p.locator('[data-testid="txn"]').filter({ hasText: wallet }).textContent()) ?? "";
    const txnId = /txn_[0-9a-f]+/.exec(text)?.[0];
    expect(txnId, text).toBeDefined();
    return { text, txn: obj((await a.req("GET", `/api/transactions/${txnId}`)).json) };
  }

  /** The page's text at `testid`, once it shows `expected`. */
  async function shows(p: Page, testid: string, expected: string | RegExp): Promise<string> {
    return waitFor(`${testid} to show ${expected}`, async () => {
      const text = (await p.locator(`[data-testid="${testid}"]`).first().textContent()) ?? "";
      return (typeof expected === "string" ? text.includes(expected) : expected.test(text))
        ? text
        : "";
    });
  }

  const bidCard = (p: Page, status: string) =>
    p.locator(`[data-testid="bid"][data-status="${status}"]`);

  const jobStatus = (p: Page, status: string) =>
    p.locator(`[data-testid="job-status"][data-status="${status}"]`).waitFor({ timeout: WAIT_MS });

  it("posts a job with a file, counters, awards, signs off and shows the payment", async () => {
    const { p, a, posterWallet } = await openPage();
    const jobId = await postThroughPage(p, {
      title: "Find anomalies in March sales",
      description: "The CSV is attached; flag the odd days.",
      budget: "5",
      file: {
        name: "sales.csv",
        mimeType: "text/csv",
        buffer: Buffer.from("day,total\n2026-03-01,120\n2026-03-02,9000\n"),
      },
    });
    const job = obj((await a.req("GET", `/api/jobs/${jobId}`)).json);
    expect(job.poster_wallet).toBe(posterWallet);
    expect(job.budget_usd).toBe(5);
    expect(job.required_capabilities).toEqual(["analysis"]);
    await shows(p, "files", "sales.csv");
    await shows(p, "jobs", "Find anomalies in March sales");

    // An agent bids, as a runner would, through the API; the page shows it without a reload.
    const agent = newAccount();
    const agentId = await registerAgent(a, {
      name: "AnomalyHunter",
      wallet_address: agent.address,
    });
    const bidId = await placeBidOk(a, jobId, {
      agent_id: agentId,
      price_usd: 4,
      approach_summary: "z-scores per weekday",
    });
    await bidCard(p, "pending").waitFor({ timeout: WAIT_MS });
    await shows(p, "bids", "AnomalyHunter");
    await shows(p, "bid-price", "$4.00");

    // The poster counters at $3; the agent counters back at $3.50; the poster accepts.
    const card = p.locator(`[data-testid="bid"][data-bid-id="${bidId}"]`);
    await card.locator('[name="price"]').fill("3");
    await card.locator('[name="message"]').fill("Can you do 3?");
    await card.locator('form[data-action="counter"] button[type="submit"]').click();
    await bidCard(p, "counter_offered").waitFor({ timeout: WAIT_MS });
    await shows(p, "offers", "You offered $3.00: Can you do 3?");
    // The counter form is cleared once the counter-offer went through.
    expect(await card.locator('[name="price"]').inputValue()).toBe("");
    await jobStatus(p, "negotiating");
    const bid = obj(
      (
        obj((await a.req("GET", `/api/jobs/${jobId}/bids`)).json).bids as Record<string, unknown>[]
      )[0],
    );
    expect(bid.counter_offers).toMatchObject([{ price_usd: 3, by: "poster" }]);

    const agentAuth = await signIn(a, agent);
    const back = await a.req(
      "POST",
      `/api/bids/${bidId}/counter`,
      { new_price: 3.5, message: "3.50 and it is done today", by: "agent" },
      agentAuth,
    );
    expect(back.status, back.text).toBe(200);
    await shows(p, "offers", "Agent offered $3.50: 3.50 and it is done today");
    await mkdir("test-results", { recursive: true });
    await p.screenshot({ path: "test-results/poster-page-negotiation.png", fullPage: true });
    await card.locator('[data-action="accept-counter"]').click();
    await bidCard(p, "counter_accepted").waitFor({ timeout: WAIT_MS });
    await shows(p, "bids", "agreed $3.50");

    // Award; the agent submits its result; the poster signs off.
    await card.locator('[data-action="award"]').click();
    await jobStatus(p, "assigned");
    await shows(p, "work", "Awarded to AnomalyHunter at $3.50");
    const submitted = await a.req("POST", `/api/jobs/${jobId}/submit-result`, {
      success: true,
      output: "2026-03-02 is 75x the median: a duplicated import.",
      executed_by: agentId,
    });
    expect(submitted.status, submitted.text).toBe(200);
    await shows(p, "result", "75x the median");
    const signOff = p.locator('[data-testid="signoff-form"]');
    await signOff.locator('[name="quality"]').fill("0.9");
    await signOff.locator('button[type="submit"]').click();
    await shows(p, "quality", "Signed off with quality 0.9");
    await shows(p, "notice", /^Signed off: released, paid \$/);

    // The payment: the escrow and the release to the agent's wallet, as the API has them.
    const done = obj((await a.req("GET", `/api/jobs/${jobId}`)).json);
    expect(done.status).toBe("completed");
    const escrow = obj((await a.req("GET", `/api/transactions/${str(done.escrow_txn_id)}`)).json);
    const payment = await shows(p, "payment", agent.address);
    expect(payment).toContain(str(escrow.txn_id));
    expect(payment).toContain(str(escrow.status));
    const release = await paymentRow(p, a, agent.address);
    expect(release.txn.txn_type).toBe("release");
    expect(release.txn.payee_wallet).toBe(agent.address);
    expect(release.text).toContain(`$${Number(release.txn.amount_usd).toFixed(2)}`);
    expect(release.text).toContain(str(release.txn.status));

    // One page load (the job id went into the address with replaceState), no errors.
    expect(loads).toBe(1);
    expect(errors).toEqual([]);
    await mkdir("test-results", { recursive: true });
    await p.screenshot({ path: "test-results/poster-page.png", fullPage: true });
  });

  it("approves a dear bid, awards it, runs hosted execution, reviews it and shows the partial payment", async () => {
    llm = await startTestLlmServer();
    llm.setResponder(() => JSON.stringify(HOSTED_ANSWER));
    const { p, a } = await openPage({
      hostedLlm: { apiKey: llm.apiKey, baseUrl: llm.url, model: "accounts/test/models/hosted" },
    });
    const jobId = await postThroughPage(p, {
      title: "Why did sales dip?",
      description: "Three dips in the last year; explain them.",
      budget: "20",
    });

    // A bid of $10 or more waits for the poster's approval before it can be awarded.
    const agent = newAccount();
    const agentId = await registerAgent(a, { name: "DipFinder", wallet_address: agent.address });
    const bidId = await placeBidOk(a, jobId, { agent_id: agentId, price_usd: 12 });
    await bidCard(p, "awaiting_approval").waitFor({ timeout: WAIT_MS });
    await jobStatus(p, "awaiting_approval");
    const card = p.locator(`[data-testid="bid"][data-bid-id="${bidId}"]`);
    expect(await card.locator('[data-action="award"]').count()).toBe(0);
    await card.locator('[data-action="approve"]').click();
    await bidCard(p, "pending").waitFor({ timeout: WAIT_MS });
    await card.locator('[data-action="award"]').click();
    await jobStatus(p, "assigned");

    // The marketplace does the work with its own LLM; the job waits for the poster's review.
    await p.locator('[data-action="execute"]').click();
    await jobStatus(p, "pending_review");
    await shows(p, "result", HOSTED_ANSWER.summary);
    const suggestion = await shows(p, "ai-suggestion", /^AI suggestion: accept, /);
    const review = p.locator('[data-testid="review-form"]');
    expect(await review.locator('[name="decision"]').inputValue()).toBe("accept");
    expect(suggestion).toContain(await review.locator('[name="rating"]').inputValue());
    await review.locator('[name="decision"]').selectOption("partial");
    await review.locator('[name="rating"]').fill("0.6");
    await review.locator('[name="feedback"]').fill("Right dips, thin on the why.");
    await review.locator('button[type="submit"]').click();
    await jobStatus(p, "completed");
    await shows(
      p,
      "quality",
      "Signed off with quality 0.6 (review: partial): Right dips, thin on the why.",
    );

    // Partial: half the price to the agent, as the API records it.
    const reviewed = obj((await a.req("GET", `/api/jobs/${jobId}`)).json);
    expect(reviewed.human_review_decision).toBe("partial");
    const release = await paymentRow(p, a, agent.address);
    expect(release.txn.txn_type).toBe("release");
    expect(release.text).toContain(`$${Number(release.txn.amount_usd).toFixed(2)}`);
    expect(Number(release.txn.amount_usd)).toBe(6);

    expect(loads).toBe(1);
    expect(errors).toEqual([]);
    await mkdir("test-results", { recursive: true });
    await p.screenshot({ path: "test-results/poster-page-hosted.png", fullPage: true });
  });
});
