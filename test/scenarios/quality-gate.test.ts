import { afterEach, describe, expect, it } from "vitest";
import { ADDENDUM_HEADING } from "../../src/agents/quality/repair.ts";
import type { Runner } from "../../src/runner/runner.ts";
import { SCHEMA_JOB } from "../support/fixtures.ts";
import { type ChatRequestBody, messageText } from "../support/llm-server.ts";
import { award, waitForBid, waitForResult } from "../support/market-helpers.ts";
import { POSTER } from "../support/marketplace-requests.ts";
import { api as rawApi } from "../support/raw-http.ts";
import { type Harness, startHarness } from "../support/runner-harness.ts";
import { SECRET_TEST_MNEMONIC } from "../support/test-secrets.ts";
import { waitFor } from "../support/wait.ts";

/**
 * The quality gate through the whole runner against the embedded marketplace: a weak
 * design is repaired once before it is submitted (the bid's price covers the repair),
 * and the gate's prediction and the poster's quality score end up side by side in the
 * ledger once the sign-off is read.
 */

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

const ADDENDUM = [
  ADDENDUM_HEADING,
  "",
  "The bookings REST API with pagination, as an OpenAPI 3 spec, and its PostgreSQL database schema:",
  "```yaml",
  "openapi: 3.0.3",
  "info: {title: Bookings, version: '1'}",
  "paths:",
  "  /bookings:",
  "    get:",
  "      parameters: [{name: page, in: query, schema: {type: integer}}]",
  "      responses: {'200': {description: A page of bookings}}",
  "```",
  "```sql",
  "CREATE TABLE bookings (id bigserial PRIMARY KEY, starts_at timestamptz NOT NULL);",
  "```",
].join("\n");

function responder(request: ChatRequestBody): string {
  const system = request.messages
    .filter((m) => m.role === "system")
    .map(messageText)
    .join("\n");
  // The executor's own answer is weak; the gate's repair round closes the gaps.
  return system.includes("You complete deliverables") ? ADDENDUM : "Here is a design.";
}

const schemaWorker = (runner: Runner) =>
  runner.workers.find((w) => w.spec.config.agent_type === "schema_architect")!;

describe("the quality gate against the embedded marketplace", () => {
  it("repairs a weak deliverable once, then keeps the prediction and the poster's score together", async () => {
    h = await startHarness({
      env: { AGENT_WALLET_MNEMONIC: SECRET_TEST_MNEMONIC, QUALITY_GATE: "on" },
    });
    h.llm.setResponder(responder);
    const runner = await h.startRunner();
    await waitFor("all agents running", () =>
      runner.workers.length === 3 && runner.workers.every((w) => w.state === "running")
        ? true
        : undefined,
    );
    const worker = schemaWorker(runner);
    const posted = await rawApi(h.marketplace.url).req("POST", "/api/jobs", {
      ...SCHEMA_JOB,
      budget_usd: 2,
      poster_id: "quality_poster",
      poster_wallet: POSTER.address,
    });
    if (posted.status !== 200) throw new Error(`post: ${posted.status} ${posted.text}`);
    const jobId = (posted.json as { job_id: string }).job_id;
    const bid = await waitForBid(h.marketplace.url, jobId, worker.agentId);
    await award(h.marketplace.url, jobId, bid.bid_id);
    const done = await waitForResult(h.marketplace.url, jobId);
    expect(done.status).toBe("completed");

    // The executor's call and the gate's one repair round.
    const systems = h.llm.completionRequests().map((r) => messageText(r.body!.messages[0]!));
    expect(systems.filter((s) => s.includes("You complete deliverables"))).toHaveLength(1);
    const entry = await runner.ledger.get(worker.agentId!, jobId);
    expect(entry?.result?.output).toContain(ADDENDUM_HEADING);

    await waitFor("the result accepted", () =>
      worker.stats.view.resultsAccepted === 1 ? true : undefined,
    );
    await rawApi(h.marketplace.url).req("POST", `/api/jobs/${jobId}/complete?quality_score=0.8`);
    const outcome = await waitFor("the sign-off beside the prediction", async () => {
      const found = (await runner.ledger.outcomes(worker.agentId!)).find((o) => o.jobId === jobId);
      return found?.qualityScore != null ? found : undefined;
    });
    expect(outcome.predictedQuality).toBeGreaterThan(0);
    expect(outcome.predictionReasons?.[0]).toMatch(
      /^repair \(predicted 0\.\d\d before delivery\)$/,
    );
    expect(outcome).toMatchObject({ qualityScore: 0.8, paidUsd: bid.price_usd });
    expect(outcome.llmCostUsd).toBeGreaterThan(0);
  });
});
