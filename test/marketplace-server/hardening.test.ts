import { createHash } from "node:crypto";
import { mkdtemp, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  createMarketplaceApp,
  type MarketplaceApp,
  MarketplaceStore,
  startMarketplace,
} from "../../src/marketplace-server/index.ts";
import {
  api,
  newAccount,
  newWallet,
  obj,
  POSTER_WALLET,
  signIn,
} from "../support/marketplace-requests.ts";

/** Issue 28: input that used to poison the database, cross-site posts, names, secrets at rest. */

let market: MarketplaceApp;

beforeEach(async () => {
  market = await createMarketplaceApp({ dbPath: ":memory:" });
});
afterEach(() => market.close());

async function inject(
  method: "GET" | "POST",
  url: string,
  payload?: string | object,
  contentType?: string,
) {
  const res = await market.app.inject({
    method,
    url,
    ...(payload === undefined ? {} : { payload }),
    ...(contentType ? { headers: { "content-type": contentType } } : {}),
  });
  let json: unknown = null;
  try {
    json = res.json();
  } catch {
    json = null;
  }
  return { status: res.statusCode, json, headers: res.headers, body: res.body };
}

const JOB = {
  title: "T",
  description: "D",
  required_capabilities: ["analysis"],
  budget_usd: 5,
  poster_id: "p",
  poster_wallet: POSTER_WALLET,
};

async function registerAgent(fields: Record<string, unknown> = {}): Promise<string> {
  const res = await inject("POST", "/api/agents/register", {
    name: "A",
    description: "d",
    owner_id: "o",
    wallet_address: newWallet(),
    ...fields,
  });
  return obj(res.json).agent_id as string;
}

describe("non-finite numbers are refused at the boundary (422), and listings keep working", () => {
  it('budget_usd "1e999" and a JSON 1e999 are 422 finite_number; nothing is stored', async () => {
    for (const body of [
      JSON.stringify({ ...JOB, budget_usd: "1e999" }),
      JSON.stringify(JOB).replace('"budget_usd":5', '"budget_usd":1e999'),
    ]) {
      const res = await inject("POST", "/api/jobs", body, "application/json");
      expect(res.status).toBe(422);
      expect(obj(res.json).detail).toEqual([
        expect.objectContaining({
          type: "finite_number",
          loc: ["body", "budget_usd"],
          msg: "Input should be a finite number",
        }),
      ]);
    }
    const listing = await inject("GET", "/api/jobs");
    expect([listing.status, obj(listing.json).count]).toEqual([200, 0]);
  });

  it("a heartbeat current_capacity of 400 nines is 422; the agent stays readable", async () => {
    const agentId = await registerAgent();
    const res = await inject("POST", `/api/agents/${agentId}/heartbeat`, {
      status: "available",
      current_capacity: "9".repeat(400),
    });
    expect(res.status).toBe(422);
    expect((obj(res.json).detail as { type: string }[])[0]?.type).toBe("int_parsing_size");
    expect((await inject("GET", `/api/agents/${agentId}`)).status).toBe(200);
    expect((await inject("GET", "/api/agents")).status).toBe(200);
  });

  it("a bid price or a quality score of 1e999 is 422", async () => {
    const bid = await inject(
      "POST",
      "/api/jobs/job_00000000/bids?agent_id=a&price_usd=1e999&estimated_quality=0.5&estimated_time_seconds=5&approach_summary=x",
    );
    expect(bid.status).toBe(422);
    expect(
      (await inject("POST", "/api/jobs/job_00000000/complete?quality_score=1e999")).status,
    ).toBe(422);
  });

  it("a row the database holds but cannot be read is left out of listings, not a 500", async () => {
    const post = async () => String(obj((await inject("POST", "/api/jobs", JOB)).json).job_id);
    const good = await post();
    const bad = await post();
    const broken = await post();
    market.store.db.prepare("UPDATE jobs SET budget_usd = ? WHERE job_id = ?").run(Infinity, bad);
    market.store.db
      .prepare("UPDATE jobs SET required_capabilities = 'not json' WHERE job_id = ?")
      .run(broken);
    const badAgent = await registerAgent();
    const goodAgent = await registerAgent();
    market.store.db
      .prepare("UPDATE agents SET current_capacity = ? WHERE agent_id = ?")
      .run(Infinity, badAgent);

    const jobs = await inject("GET", "/api/jobs");
    expect(jobs.status).toBe(200);
    expect((obj(jobs.json).jobs as { job_id: string }[]).map((j) => j.job_id)).toEqual([good]);
    const agents = await inject("GET", "/api/agents");
    expect(agents.status).toBe(200);
    expect((obj(agents.json).agents as { agent_id: string }[]).map((a) => a.agent_id)).toEqual([
      goodAgent,
    ]);
    const beat = await inject("POST", `/api/agents/${goodAgent}/heartbeat`, {});
    expect(beat.status).toBe(200);
    expect(market.store.badRows).toBeGreaterThanOrEqual(3);
  });
});

describe("bodies are JSON only where the service reads JSON", () => {
  it("a text/plain or form body cannot post a job (a cross-site simple request): 422, nothing posted", async () => {
    for (const contentType of [
      "text/plain",
      "text/plain;charset=UTF-8",
      "application/x-www-form-urlencoded",
    ]) {
      const res = await inject("POST", "/api/jobs", JSON.stringify(JOB), contentType);
      expect(res.status).toBe(422);
      expect(obj(res.json).detail).toEqual([
        {
          type: "model_attributes_type",
          loc: ["body"],
          msg: "Input should be a valid dictionary or object to extract fields from",
          input: JSON.stringify(JOB),
        },
      ]);
    }
    expect(obj((await inject("GET", "/api/jobs")).json).count).toBe(0);
    // JSON by another name is JSON (FastAPI reads application/*+json), and so is no type.
    expect(
      (await inject("POST", "/api/jobs", JSON.stringify(JOB), "application/vnd.x+json")).status,
    ).toBe(200);
  });

  it("a text/plain body cannot change an agent", async () => {
    const agentId = await registerAgent();
    const res = await market.app.inject({
      method: "PUT",
      url: `/api/agents/${agentId}`,
      payload: JSON.stringify({ webhook_url: "http://evil.example/" }),
      headers: { "content-type": "text/plain" },
    });
    expect(res.statusCode).toBe(422);
    expect(obj((await inject("GET", `/api/agents/${agentId}`)).json).webhook_url).toBeNull();
  });
});

describe("capabilities are the agent's own properties only", () => {
  it.each(["constructor", "toString", "__proto__", "hasOwnProperty"])(
    "a job requiring %s refuses an agent that has no such capability",
    async (capability) => {
      const agentId = await registerAgent({ capabilities: { analysis: 0.9 } });
      const job = await inject("POST", "/api/jobs", {
        ...JOB,
        required_capabilities: [capability],
      });
      const jobId = obj(job.json).job_id;
      expect(obj(job.json).matched_agents).toEqual([]);
      const bid = await inject(
        "POST",
        `/api/jobs/${jobId}/bids?agent_id=${agentId}&price_usd=1&estimated_quality=0.5&estimated_time_seconds=5&approach_summary=x`,
      );
      expect(bid.status).toBe(400);
      expect(obj(bid.json).detail).toBe(
        `Agent ${agentId} does not meet minimum ${capability} score (has 0, need 0.7)`,
      );
    },
  );
});

describe("job files", () => {
  it("a file named 文件.csv downloads, with a filename*=utf-8'' disposition; sizes are display strings", async () => {
    const m = await startMarketplace({ dbPath: ":memory:", port: 0 });
    try {
      const a = api(m.url);
      const jobId = obj((await a.req("POST", "/api/jobs", JOB)).json).job_id as string;
      const sizes = [812, 3482, 1_258_291];
      const names = ["文件.csv", "plain.csv", "big.csv"];
      for (const [i, name] of names.entries()) {
        const form = new FormData();
        form.append("file", new Blob([new Uint8Array(sizes[i] ?? 0).fill(49)]), name);
        form.append("uploaded_by", "p");
        const res = await fetch(`${m.url}/api/jobs/${jobId}/files`, { method: "POST", body: form });
        expect(res.status).toBe(200);
      }
      const listing = obj((await a.req("GET", `/api/jobs/${jobId}/files`)).json);
      const files = listing.files as { file_id: string; filename: string; size: string }[];
      expect(files.map((f) => [f.filename, f.size])).toEqual([
        ["文件.csv", "812 B"],
        ["plain.csv", "3.4 KB"],
        ["big.csv", "1.2 MB"],
      ]);
      const download = await fetch(`${m.url}/api/jobs/${jobId}/files/${files[0]?.file_id}`);
      expect(download.status).toBe(200);
      expect(download.headers.get("content-disposition")).toBe(
        "attachment; filename*=utf-8''%E6%96%87%E4%BB%B6.csv",
      );
      expect((await download.arrayBuffer()).byteLength).toBe(812);
      const plain = await fetch(`${m.url}/api/jobs/${jobId}/files/${files[1]?.file_id}`);
      expect(plain.headers.get("content-disposition")).toBe('attachment; filename="plain.csv"');
    } finally {
      await m.close();
    }
  });
});

describe("sessions at rest", () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "bazaar-sessions-"));
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it("the database keeps a session's SHA-256, not its token, and is readable by its owner only", async () => {
    const dbPath = join(dir, "marketplace.sqlite");
    const m = await startMarketplace({ dbPath, port: 0 });
    let token = "";
    try {
      const auth = await signIn(api(m.url), newAccount());
      token = (auth.authorization ?? "").replace(/^Bearer /, "");
      expect((await api(m.url).req("GET", "/api/auth/me", undefined, auth)).status).toBe(200);
    } finally {
      await m.close();
    }
    expect(token).not.toBe("");
    const store = new MarketplaceStore(dbPath);
    try {
      const rows = store.db.prepare("SELECT token FROM auth_sessions").all();
      const stored = rows.map((r) => String(r.token));
      expect(stored).toHaveLength(1);
      expect(stored).not.toContain(token);
      expect(stored).toEqual([createHash("sha256").update(token).digest("hex")]);
    } finally {
      store.close();
    }
    expect((await stat(dbPath)).mode & 0o777).toBe(0o600);
  });
});
