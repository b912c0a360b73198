import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createMarketplaceApp, type MarketplaceApp } from "../../src/marketplace-server/index.ts";

/**
 * Every route of the real service (OpenAgora src/bazaar/api.py, 47 of them) is served by
 * the embedded marketplace, save the generative-UI routes (`/chat`, `/page`, which need
 * the service's Thesys backend) and the pages of its built web UI.
 */

const SERVICE_ROUTES = [
  "GET /api/auth/challenge",
  "POST /api/auth/verify",
  "POST /api/auth/logout",
  "GET /api/auth/me",
  "GET /",
  "GET /agents",
  "GET /jobs",
  "GET /reviews",
  "GET /api/agents",
  "GET /api/agents/{agent_id}",
  "POST /api/agents/register",
  "PUT /api/agents/{agent_id}",
  "DELETE /api/agents/{agent_id}",
  "POST /api/agents/{agent_id}/heartbeat",
  "GET /api/agents/{agent_id}/jobs",
  "GET /api/jobs",
  "GET /api/jobs/{job_id}",
  "GET /api/jobs/{job_id}/matches",
  "POST /api/jobs",
  "DELETE /api/jobs/{job_id}",
  "DELETE /api/jobs",
  "GET /api/jobs/{job_id}/bids",
  "POST /api/jobs/{job_id}/bids",
  "POST /api/jobs/{job_id}/select-bid/{bid_id}",
  "POST /api/jobs/{job_id}/execute",
  "POST /api/jobs/{job_id}/submit-result",
  "POST /api/jobs/{job_id}/complete",
  "GET /api/transactions/{txn_id}",
  "POST /api/bids/{bid_id}/counter",
  "POST /api/bids/{bid_id}/accept-counter",
  "POST /api/bids/{bid_id}/approve",
  "POST /api/bids/{bid_id}/reject",
  "POST /api/bids/{bid_id}/auto-negotiate",
  "GET /api/approvals/pending",
  "GET /api/reviews/pending",
  "GET /api/jobs/{job_id}/review",
  "POST /api/jobs/{job_id}/review",
  "POST /api/jobs/{job_id}/refund",
  "GET /api/files/allowed-types",
  "POST /api/jobs/{job_id}/files",
  "GET /api/jobs/{job_id}/files",
  "GET /api/jobs/{job_id}/files/{file_id}",
  "DELETE /api/jobs/{job_id}/files/{file_id}",
  "GET /api/jobs/{job_id}/result/export",
  "POST /chat",
  "POST /page",
  "GET /api/demo/status",
];

/** Not served here: the generative UI, and the single-page app's own pages. */
const NOT_SERVED = new Set([
  "POST /chat",
  "POST /page",
  "GET /agents",
  "GET /jobs",
  "GET /reviews",
]);

let market: MarketplaceApp;
beforeAll(async () => {
  market = await createMarketplaceApp({ dbPath: ":memory:" });
});
afterAll(async () => {
  await market?.close();
});

describe("the service's route table", () => {
  it("lists the service's 47 routes", () => {
    expect(new Set(SERVICE_ROUTES).size).toBe(47);
  });

  it.each(SERVICE_ROUTES.filter((r) => !NOT_SERVED.has(r)))("%s is served", async (route) => {
    const [method, path] = route.split(" ") as [string, string];
    const pattern = path.replace(/\{(\w+)\}/g, ":$1");
    expect(market.app.hasRoute({ method: method as "GET", url: pattern })).toBe(true);
    // An unknown id is the route's own answer (a 404 naming what is missing), not the
    // router's "Not Found".
    const url = path.replace(/\{(\w+)\}/g, (_, name: string) => `${name.split("_")[0]}_00000000`);
    const res = await market.app.inject({ method: method as "GET", url });
    expect(res.body).not.toBe(JSON.stringify({ detail: "Not Found" }));
  });
});
