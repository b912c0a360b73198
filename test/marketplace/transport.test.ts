import { describe, expect, it } from "vitest";
import { type CallOptions, fillRoute } from "../../src/marketplace/transport.ts";

describe("route templates", () => {
  it("fills each :name with its value, URL-encoded, and splits off the method", () => {
    expect(
      fillRoute("POST /api/jobs/:id/select-bid/:bid", { id: "job 1/2", bid: "bid_9" }),
    ).toEqual({ method: "POST", path: "/api/jobs/job%201%2F2/select-bid/bid_9" });
    expect(fillRoute("GET /api/agents", {})).toEqual({ method: "GET", path: "/api/agents" });
  });

  it("refuses a template whose parameter has no value", () => {
    expect(() => fillRoute("GET /api/jobs/:id", {})).toThrow("GET /api/jobs/:id: no value for :id");
  });

  it("types params from the template: each name required, no other", () => {
    const schema = { safeParse: () => ({ success: true, data: null }) } as never;
    const ok: CallOptions<null, "GET /api/jobs/:id/bids"> = {
      route: "GET /api/jobs/:id/bids",
      params: { id: "job_1" },
      schema,
    };
    // @ts-expect-error: the template names :id, so params must give it.
    const missing: CallOptions<null, "GET /api/jobs/:id"> = { route: "GET /api/jobs/:id", schema };
    const extra: CallOptions<null, "GET /api/jobs"> = {
      route: "GET /api/jobs",
      // @ts-expect-error: a template without parameters takes no params.
      params: { id: "job_1" },
      schema,
    };
    expect([ok.params, missing.route, extra.route]).toEqual([
      { id: "job_1" },
      "GET /api/jobs/:id",
      "GET /api/jobs",
    ]);
  });
});
