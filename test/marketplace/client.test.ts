import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { MarketplaceClient } from "../../src/marketplace/client.ts";
import { MarketplaceError } from "../../src/marketplace/errors.ts";
import { createMetrics } from "../../src/metrics.ts";
import { createSharedPool } from "../../src/pool.ts";

type Reply = { status: number; body: string; headers?: Record<string, string> };
interface Seen {
  method: string;
  url: string;
  body: string;
}

/** A scripted HTTP peer: answers each request with the next reply of the script. */
class ScriptedServer {
  readonly seen: Seen[] = [];
  script: Reply[] = [];
  server: Server;
  constructor() {
    this.server = createServer((req: IncomingMessage, res: ServerResponse) => {
      let body = "";
      req.on("data", (c: Buffer) => {
        body += c.toString();
      });
      req.on("end", () => {
        this.seen.push({ method: req.method ?? "", url: req.url ?? "", body });
        const reply = this.script.shift() ?? { status: 500, body: "script exhausted" };
        res.writeHead(reply.status, { "content-type": "application/json", ...reply.headers });
        res.end(reply.body);
      });
    });
  }
  async listen(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, "127.0.0.1", resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }
  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

const json = (status: number, body: unknown, headers?: Record<string, string>): Reply => ({
  status,
  body: JSON.stringify(body),
  headers,
});
const JOB = {
  job_id: "job_0000000a",
  title: "t",
  description: "d",
  status: "posted",
  budget_usd: 1,
};

describe("MarketplaceClient", () => {
  let server: ScriptedServer;
  let delays: number[];
  let client: MarketplaceClient;
  const pool = createSharedPool();
  const metrics = createMetrics({ processMetrics: false });

  beforeEach(async () => {
    server = new ScriptedServer();
    const url = await server.listen();
    delays = [];
    client = new MarketplaceClient({
      baseUrl: url,
      dispatcher: pool,
      metrics,
      maxAttempts: 4,
      sleep: async (ms) => {
        delays.push(ms);
      },
    });
  });
  afterEach(() => server.close());

  it("retries 5xx with growing, jittered backoff and then succeeds", async () => {
    server.script = [
      json(503, { detail: "busy" }),
      { status: 502, body: "<html><body>Bad Gateway</body></html>" },
      json(200, { agents: [], count: 0 }),
    ];
    await expect(client.listAgents()).resolves.toEqual([]);
    expect(server.seen).toHaveLength(3);
    expect(delays).toHaveLength(2);
    for (const d of delays) expect(d).toBeGreaterThanOrEqual(0);
  });

  it("honours Retry-After on 429", async () => {
    server.script = [
      json(429, { detail: "slow down" }, { "retry-after": "2" }),
      json(200, { agents: [] }),
    ];
    await client.listAgents();
    expect(delays).toEqual([2000]);
  });

  it("waits the seconds named in the registration cooldown message", async () => {
    server.script = [
      json(429, {
        detail: "Rate limited. Please wait 7 seconds before registering another agent.",
      }),
      json(200, { success: true, agent_id: "agent_0000abcd", name: "A", status: "available" }),
    ];
    const response = await client.registerAgent({
      name: "A",
      description: "d",
      owner_id: "o",
      wallet_address: `0x${"a".repeat(40)}`,
    });
    expect(response.agent_id).toBe("agent_0000abcd");
    expect(delays).toHaveLength(1);
    expect(delays[0]).toBeGreaterThanOrEqual(7000);
  });

  it("does not retry a 4xx, and says what the service said", async () => {
    server.script = [json(400, { detail: "Job is not assigned" })];
    const error = await client
      .submitResult("job_1", { success: true, output: "x", executed_by: "agent_1" })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MarketplaceError);
    expect((error as MarketplaceError).status).toBe(400);
    expect((error as MarketplaceError).detail).toBe("Job is not assigned");
    expect((error as MarketplaceError).message).toMatch(
      /submit-result: answered 400: Job is not assigned/,
    );
    expect(server.seen).toHaveLength(1);
  });

  it("gives up after maxAttempts with the last failure", async () => {
    server.script = [json(500, {}), json(500, {}), json(500, {}), json(500, {}), json(500, {})];
    const error = await client.listAgents().catch((e: unknown) => e);
    expect((error as MarketplaceError).status).toBe(500);
    expect((error as MarketplaceError).attempts).toBe(4);
    expect(server.seen).toHaveLength(4);
  });

  it("turns an answer that is not JSON, or not the contract's shape, into an error of that call", async () => {
    server.script = [
      { status: 200, body: '{"agents": [' },
      { status: 200, body: '{"agents": [' },
      { status: 200, body: "{" },
      { status: 200, body: "{" },
    ];
    const truncated = await client.listAgents().catch((e: unknown) => e);
    expect((truncated as MarketplaceError).kind).toBe("invalid-response");
    server.script = [json(200, { agents: "nope" })];
    const wrong = await client.listAgents().catch((e: unknown) => e);
    expect((wrong as MarketplaceError).kind).toBe("invalid-response");
    expect((wrong as MarketplaceError).message).toMatch(/agents/);
  });

  it("reports connection failures as network errors, after retrying", async () => {
    const url = `http://127.0.0.1:${(server.server.address() as AddressInfo).port}`;
    await server.close();
    const dead = new MarketplaceClient({
      baseUrl: url,
      dispatcher: pool,
      maxAttempts: 3,
      sleep: async () => {},
    });
    const error = await dead.listAgents().catch((e: unknown) => e);
    expect((error as MarketplaceError).kind).toBe("network");
    expect((error as MarketplaceError).attempts).toBe(3);
    server = new ScriptedServer();
    await server.listen();
  });

  it("sends bids as query parameters, not JSON, and never retries them", async () => {
    server.script = [json(500, {})];
    const params = {
      agent_id: "agent_1",
      price_usd: 0.05,
      estimated_quality: 0.8,
      estimated_time_seconds: 420,
      approach_summary: "do it well",
    };
    await expect(client.placeBid("job_1", params)).rejects.toBeInstanceOf(MarketplaceError);
    expect(server.seen).toHaveLength(1);
    const { url, body } = server.seen[0]!;
    const query = new URL(url, "http://x").searchParams;
    expect(query.get("agent_id")).toBe("agent_1");
    expect(query.get("price_usd")).toBe("0.05");
    expect(query.get("estimated_time_seconds")).toBe("420");
    expect(query.get("approach_summary")).toBe("do it well");
    expect(body).toBe("");
  });

  it("checks listed jobs one by one: malformed jobs are rejected, the rest kept", async () => {
    server.script = [
      json(200, {
        jobs: [
          JOB,
          { job_id: "job_bad", title: 42, status: "posted" },
          { title: "no id" },
          { ...JOB, job_id: "job_big", description: "x".repeat(300_000) },
          { ...JOB, job_id: "job_extra", brand_new_field: true },
        ],
        count: 5,
      }),
    ];
    const listing = await client.listJobs({ status: "posted" });
    expect(listing.jobs.map((j) => j.job_id)).toEqual(["job_0000000a", "job_extra"]);
    expect(listing.jobs[0]!.min_capability_score).toBe(0.7);
    expect(listing.rejected.map((r) => r.jobId)).toEqual(["job_bad", undefined, "job_big"]);
    expect(server.seen[0]!.url).toBe("/api/jobs?status=posted");
  });

  it("reads a listing over 32 MB: three jobs of 11 MB are rejected as too_large, the rest kept", async () => {
    // Issue 28: three postings of 11 MB made `GET /api/jobs?status=posted` larger than
    // the body cap, and the whole listing was refused.
    const big = (id: string) => ({ ...JOB, job_id: id, description: "x".repeat(11 * 1024 * 1024) });
    const jobs = [
      big("job_big1"),
      JOB,
      big("job_big2"),
      big("job_big3"),
      { ...JOB, job_id: "job_b" },
    ];
    server.script = [json(200, { jobs, count: jobs.length })];
    const listing = await client.listJobs({ status: "posted" });
    expect(listing.jobs.map((j) => j.job_id)).toEqual(["job_0000000a", "job_b"]);
    expect(listing.rejected).toEqual(
      ["job_big1", "job_big2", "job_big3"].map((jobId) => ({
        jobId,
        problem: `description: ${11 * 1024 * 1024} characters, more than ${256 * 1024}`,
        reason: "too_large",
      })),
    );
    expect(server.seen).toHaveLength(1);
  });

  it("marks one oversized job too_large, by any of its strings, and keeps the others", async () => {
    server.script = [
      json(200, {
        jobs: [
          { ...JOB, job_id: "job_title", title: "t".repeat(65 * 1024) },
          JOB,
          { ...JOB, job_id: "job_bad", budget_usd: "ten" },
        ],
      }),
    ];
    const listing = await client.listAgentJobs("agent_1", "assigned");
    expect(listing.jobs.map((j) => j.job_id)).toEqual(["job_0000000a"]);
    expect(listing.rejected).toEqual([
      {
        jobId: "job_title",
        problem: `title: ${65 * 1024} characters, more than ${64 * 1024}`,
        reason: "too_large",
      },
      { jobId: "job_bad", problem: expect.stringMatching(/^budget_usd: /), reason: "malformed" },
    ]);
  });

  it("a streamed listing that is not JSON is an invalid answer, retried; an error status keeps its detail", async () => {
    server.script = [
      { status: 200, body: '{"jobs": [{"job_id": "a"}' },
      { status: 200, body: '{"jobs": [}' },
      json(200, { jobs: [JOB] }),
    ];
    const listing = await client.listJobs({ status: "posted" });
    expect(listing.jobs).toHaveLength(1);
    expect(server.seen).toHaveLength(3);
    server.script = [json(200, { jobs: "none" })];
    const wrong = await client.listJobs().catch((e: unknown) => e);
    expect((wrong as MarketplaceError).kind).toBe("invalid-response");
    expect((wrong as MarketplaceError).message).toMatch(/jobs: /);
    server.script = [json(404, { detail: "Agent not found" })];
    const missing = await client.listAgentJobs("agent_x").catch((e: unknown) => e);
    expect((missing as MarketplaceError).detail).toBe("Agent not found");
  });

  it("reads a file listing's display sizes as bytes, preferring the attachments' size_bytes", async () => {
    // Issue 22: the service shows `size` as text ("812 B", files.py's format_file_size),
    // and a schema that wanted a number refused the listing, so no file was ever read.
    const file = (id: string, size: unknown) => ({
      file_id: id,
      filename: `${id}.csv`,
      category: "data",
      size,
      mime_type: "text/csv",
      uploaded_at: "2026-12-06T10:00:00",
    });
    const files = [
      file("file_a", "812 B"),
      file("file_b", "3.4 KB"),
      file("file_c", "1.2 MB"),
      file("file_d", "1024.0 KB"),
      file("file_e", "big"),
    ];
    server.script = [json(200, { job_id: "job_1", count: files.length, files })];
    const listed = await client.listJobFiles("job_1");
    expect(listed.map((f) => f.size)).toEqual([812, 3482, 1258291, 1048576, null]);
    server.script = [json(200, { job_id: "job_1", count: files.length, files })];
    const exact = await client.listJobFiles("job_1", undefined, [
      { file_id: "file_b", size_bytes: 3456 },
      { file_id: "file_e", size_bytes: 9 },
      { file_id: "file_x", size_bytes: 1 },
    ]);
    expect(exact.map((f) => f.size)).toEqual([812, 3456, 1258291, 1048576, 9]);
  });

  it("counts requests by route and status", async () => {
    server.script = [json(200, { agents: [] })];
    await client.listAgents();
    const text = await metrics.registry.getSingleMetricAsString(
      "bazaar_runner_marketplace_requests_total",
    );
    expect(text).toMatch(/route="GET \/api\/agents",status="200"/);
  });
});
