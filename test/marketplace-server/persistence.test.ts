import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { startMarketplace } from "../../src/marketplace-server/index.ts";
import { MIGRATIONS } from "../../src/marketplace-server/migrations.ts";
import {
  api,
  obj,
  POSTER,
  placeBidOk,
  postJob,
  registerAgent,
  signIn,
} from "../support/marketplace-requests.ts";

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "marketplace-"));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe("persistence", () => {
  it("agents, jobs, bids and results survive closing and reopening the file", async () => {
    const dbPath = join(dir, "market.db");
    const first = await startMarketplace({ dbPath, port: 0 });
    const a = api(first.url);
    const agentId = await registerAgent(a, {
      name: "Persistent",
      wallet_address: `0x${"cd".repeat(20)}`,
      capabilities: { analysis: 0.9 },
    });
    const done = await postJob(a, { data_context: { collection: "sales", estimated_docs: 10 } });
    const open = await postJob(a, { title: "still open" });
    const bidDone = await placeBidOk(a, done, { agent_id: agentId });
    const bidOpen = await placeBidOk(a, open, { agent_id: agentId, price_usd: 1.5 });
    await a.req("POST", `/api/jobs/${done}/select-bid/${bidDone}`);
    await a.req("POST", `/api/jobs/${done}/submit-result`, {
      success: true,
      output: "the answer",
      tokens_used: 42,
      model: "m",
      executed_by: agentId,
    });
    await a.req(
      "POST",
      `/api/bids/${bidOpen}/counter`,
      { new_price: 1, message: "less?", by: "poster" },
      await signIn(a, POSTER),
    );
    const before = {
      agents: (await a.req("GET", "/api/agents")).json,
      done: (await a.req("GET", `/api/jobs/${done}`)).json,
      open: (await a.req("GET", `/api/jobs/${open}`)).json,
      bids: (await a.req("GET", `/api/jobs/${open}/bids`)).json,
    };
    await first.close();

    const second = await startMarketplace({ dbPath, port: 0 });
    try {
      const b = api(second.url);
      expect((await b.req("GET", "/api/agents")).json).toEqual(before.agents);
      expect((await b.req("GET", `/api/jobs/${done}`)).json).toEqual(before.done);
      expect((await b.req("GET", `/api/jobs/${open}`)).json).toEqual(before.open);
      expect((await b.req("GET", `/api/jobs/${open}/bids`)).json).toEqual(before.bids);
      const doneJob = obj(before.done);
      expect(obj(doneJob.result)).toMatchObject({ output: "the answer", tokens_used: 42 });
      expect(doneJob.data_context).toEqual({ collection: "sales", estimated_docs: 10 });
      // Wallet idempotency holds across the restart.
      const again = await b.req("POST", "/api/agents/register", {
        name: "Persistent",
        description: "d",
        owner_id: "o",
        wallet_address: `0x${"CD".repeat(20)}`,
      });
      expect(obj(again.json).agent_id).toBe(agentId);
      // And the rules go on from the stored state: the completed job takes no result.
      const resubmit = await b.req("POST", `/api/jobs/${done}/submit-result`, {
        success: true,
        output: "again",
        executed_by: agentId,
      });
      expect(resubmit.status).toBe(400);
    } finally {
      await second.close();
    }
  });

  it("stores JSON fields as JSON text, in WAL mode, at the latest schema version", async () => {
    const dbPath = join(dir, "market.db");
    const m = await startMarketplace({ dbPath, port: 0 });
    const a = api(m.url);
    await registerAgent(a, { capabilities: { analysis: 0.75 } });
    await postJob(a, { required_capabilities: ["analysis", "sql"] });
    await m.close();

    const db = new DatabaseSync(dbPath, { readOnly: true });
    try {
      expect(db.prepare("PRAGMA user_version").get()?.user_version).toBe(MIGRATIONS.length);
      expect(db.prepare("PRAGMA journal_mode").get()?.journal_mode).toBe("wal");
      expect(db.prepare("SELECT capabilities FROM agents").get()?.capabilities).toBe(
        '{"analysis":0.75}',
      );
      expect(
        db.prepare("SELECT required_capabilities FROM jobs").get()?.required_capabilities,
      ).toBe('["analysis","sql"]');
    } finally {
      db.close();
    }
  });

  it("migrates an older database forward and keeps its rows", async () => {
    const dbPath = join(dir, "old.db");
    const db = new DatabaseSync(dbPath);
    db.exec(MIGRATIONS[0]!);
    db.exec("PRAGMA user_version = 1");
    db.exec(`INSERT INTO agents (agent_id, name, description, owner_id, wallet_address, execution_mode,
      provider, base_rate_usd, rate_per_1k_tokens, status, created_at)
      VALUES ('agent_0000abcd', 'Old', 'd', 'o', '0x1', 'self_hosted', 'fireworks', 0.01, 0.001,
      'available', '2024-01-01T00:00:00')`);
    db.close();

    const m = await startMarketplace({ dbPath, port: 0, registrationCooldownSeconds: 60 });
    try {
      const a = api(m.url);
      const res = await a.req("GET", "/api/agents/agent_0000abcd");
      expect(obj(res.json)).toMatchObject({ name: "Old", capabilities: {} });
      // Migration 2 (the cooldown table) is in place.
      expect(
        (
          await a.req("POST", "/api/agents/register", {
            name: "n",
            description: "d",
            owner_id: "o2",
            wallet_address: "0x2",
          })
        ).status,
      ).toBe(200);
      expect(
        (
          await a.req("POST", "/api/agents/register", {
            name: "n",
            description: "d",
            owner_id: "o2",
            wallet_address: "0x3",
          })
        ).status,
      ).toBe(429);
    } finally {
      await m.close();
    }
  });

  it("migration 7: old payments take the service's shape, open escrows get their row, clear-text sessions go", async () => {
    const dbPath = join(dir, "v6.db");
    const db = new DatabaseSync(dbPath);
    for (const sql of MIGRATIONS.slice(0, 6)) db.exec(sql);
    db.exec("PRAGMA user_version = 6");
    const job = (id: string, escrow: string) =>
      db.exec(`INSERT INTO jobs (job_id, poster_id, poster_wallet, title, description, task_type,
        min_capability_score, budget_usd, deadline_minutes, escrow_txn_id, status, created_at)
        VALUES ('${id}', 'poster_1', '0xpw', 't', 'd', 'analysis', 0.7, 5, 10, '${escrow}', 'posted',
        '2026-01-01T00:00:00.000000')`);
    job("job_0000open", "txn_0000open");
    job("job_0000done", "txn_0000done");
    // Earlier versions wrote the release under the escrow's own id, and no escrow row.
    db.exec(`INSERT INTO transactions (txn_id, job_id, kind, payer, payee_wallet, amount_usd,
      currency, chain_id, status, created_at) VALUES ('txn_0000done', 'job_0000done', 'release',
      '0xpw', '0xagent', 2, 'USDC', 8453, 'released', '2026-01-02T00:00:00.000000')`);
    db.exec(`INSERT INTO auth_sessions (token, wallet, agent_id, created_at, expires_at)
      VALUES ('clear-text-token', '0xw', NULL, '2026-01-01T00:00:00', '2099-01-01T00:00:00')`);
    db.close();

    const m = await startMarketplace({ dbPath, port: 0 });
    try {
      const a = api(m.url);
      expect(obj((await a.req("GET", "/api/transactions/txn_0000open")).json)).toMatchObject({
        txn_type: "escrow",
        job_id: "job_0000open",
        payer_id: "poster_1",
        payer_wallet: "0xpw",
        payee_wallet: null,
        amount_usd: 5,
        status: "escrowed",
      });
      expect(obj((await a.req("GET", "/api/transactions/txn_0000done")).json)).toMatchObject({
        txn_type: "release",
        payee_wallet: "0xagent",
        amount_usd: 2,
        status: "released",
      });
      const me = await a.req("GET", "/api/auth/me", undefined, {
        authorization: "Bearer clear-text-token",
      });
      expect(me.status).toBe(401);
    } finally {
      await m.close();
    }
  });

  it("refuses a database from a newer program", async () => {
    const dbPath = join(dir, "future.db");
    const db = new DatabaseSync(dbPath);
    db.exec(`PRAGMA user_version = ${MIGRATIONS.length + 1}`);
    db.close();
    await expect(startMarketplace({ dbPath, port: 0 })).rejects.toThrow(/newer than this program/);
  });
});
