import { describe, expect, it } from "vitest";
import { startMarketplace } from "../../src/marketplace-server/index.ts";
import { api, newWallet, obj, str, waitFor } from "../support/marketplace-requests.ts";

const RATE_LIMITED = /^Rate limited\. Please wait \d+ seconds before registering another agent\.$/;

function registration(owner: string, wallet = newWallet()) {
  return { name: "A", description: "d", owner_id: owner, wallet_address: wallet };
}

describe("registration cooldown", () => {
  it("is off by default: one owner registers back to back", async () => {
    const m = await startMarketplace({ dbPath: ":memory:", port: 0 });
    try {
      const a = api(m.url);
      for (let i = 0; i < 3; i++) {
        expect((await a.req("POST", "/api/agents/register", registration("o"))).status).toBe(200);
      }
    } finally {
      await m.close();
    }
  });

  it("answers 429 inside the window, before the wallet lookup, per owner (fake clock)", async () => {
    let t = Date.parse("2030-01-01T00:00:00Z");
    const m = await startMarketplace({
      dbPath: ":memory:",
      port: 0,
      registrationCooldownSeconds: 10,
      now: () => new Date(t),
    });
    try {
      const a = api(m.url);
      const wallet = newWallet();
      const first = await a.req("POST", "/api/agents/register", registration("owner_a", wallet));
      expect(first.status).toBe(200);
      const agentId = str(obj(first.json).agent_id);

      t += 3_000;
      const second = await a.req("POST", "/api/agents/register", registration("owner_a"));
      expect(second.status).toBe(429);
      expect(second.json).toEqual({
        detail: "Rate limited. Please wait 7 seconds before registering another agent.",
      });
      expect(second.headers.get("retry-after")).toBe("7");
      // The cooldown is checked before the wallet: re-registering is refused too.
      const again = await a.req("POST", "/api/agents/register", registration("owner_a", wallet));
      expect(again.status).toBe(429);
      // Another owner is not affected.
      expect((await a.req("POST", "/api/agents/register", registration("owner_b"))).status).toBe(
        200,
      );

      t += 7_000;
      const after = await a.req("POST", "/api/agents/register", registration("owner_a", wallet));
      expect(after.status).toBe(200);
      expect(obj(after.json).agent_id).toBe(agentId);
    } finally {
      await m.close();
    }
  });

  it("a short real cooldown (1 s) refuses, then admits once the window has passed", async () => {
    const m = await startMarketplace({
      dbPath: ":memory:",
      port: 0,
      registrationCooldownSeconds: 1,
    });
    try {
      const a = api(m.url);
      expect((await a.req("POST", "/api/agents/register", registration("o1"))).status).toBe(200);
      const refused = await a.req("POST", "/api/agents/register", registration("o1"));
      expect(refused.status).toBe(429);
      expect(str(obj(refused.json).detail)).toMatch(RATE_LIMITED);
      const admitted = await waitFor(async () => {
        const res = await a.req("POST", "/api/agents/register", registration("o1"));
        return res.status === 200 ? res : undefined;
      });
      expect(str(obj(admitted.json).agent_id)).toMatch(/^agent_[0-9a-f]{8}$/);
    } finally {
      await m.close();
    }
  });
});

describe("registration with an existing wallet (register.py, then api.py's updates)", () => {
  it("brings the agent back: available, fresh last_active, the new mode, webhook and capabilities; owner, name and description stay", async () => {
    let t = Date.parse("2030-01-01T00:00:00Z");
    const m = await startMarketplace({ dbPath: ":memory:", port: 0, now: () => new Date(t) });
    try {
      const a = api(m.url);
      const wallet = newWallet();
      const first = await a.req("POST", "/api/agents/register", {
        ...registration("owner_first", wallet),
        name: "Original",
        capabilities: { analysis: 0.9 },
      });
      const agentId = str(obj(first.json).agent_id);
      await a.req("PUT", `/api/agents/${agentId}`, { status: "offline" });

      t += 3_600_000;
      const again = await a.req("POST", "/api/agents/register", {
        name: "Impostor",
        description: "other words",
        owner_id: "owner_second",
        wallet_address: wallet.toUpperCase().replace("0X", "0x"),
        execution_mode: "webhook",
        webhook_url: "http://127.0.0.1:9/hook",
        capabilities: { translation: 0.8 },
      });
      expect(again.status).toBe(200);
      expect(again.json).toEqual({
        success: true,
        agent_id: agentId,
        name: "Original",
        execution_mode: "webhook",
        // The service answers with the status the agent had before the re-registration.
        status: "offline",
        wallet_address: wallet.toUpperCase().replace("0X", "0x"),
        message: "Agent registered with webhook execution mode.",
      });
      expect(obj((await a.req("GET", `/api/agents/${agentId}`)).json)).toMatchObject({
        name: "Original",
        description: "d",
        owner_id: "owner_first",
        status: "available",
        last_active: "2030-01-01T01:00:00.000000",
        execution_mode: "webhook",
        webhook_url: "http://127.0.0.1:9/hook",
        capabilities: { translation: 0.8 },
      });

      // Without webhook_url and capabilities, those stay; the mode is applied.
      await a.req("POST", "/api/agents/register", registration("owner_first", wallet));
      expect(obj((await a.req("GET", `/api/agents/${agentId}`)).json)).toMatchObject({
        execution_mode: "self_hosted",
        webhook_url: "http://127.0.0.1:9/hook",
        capabilities: { translation: 0.8 },
      });
    } finally {
      await m.close();
    }
  });

  it("a new agent carries the service's defaults: its provider's model and the benchmark capabilities at 0", async () => {
    const m = await startMarketplace({ dbPath: ":memory:", port: 0 });
    try {
      const a = api(m.url);
      const plain = str(
        obj((await a.req("POST", "/api/agents/register", registration("o1"))).json).agent_id,
      );
      expect(obj((await a.req("GET", `/api/agents/${plain}`)).json)).toMatchObject({
        provider: "fireworks",
        model: "accounts/fireworks/models/llama-v3p3-70b-instruct",
        capabilities: {
          summarization: 0,
          sentiment_analysis: 0,
          data_extraction: 0,
          pattern_recognition: 0,
          code_review: 0,
          aggregation: 0,
          classification: 0,
          anomaly_detection: 0,
        },
        rating_avg: 0,
        rating_count: 0,
        jobs_failed: 0,
      });
      const nvidia = await a.req("POST", "/api/agents/register", {
        ...registration("o2"),
        provider: "nvidia",
      });
      const nvidiaId = str(obj(nvidia.json).agent_id);
      expect(obj((await a.req("GET", `/api/agents/${nvidiaId}`)).json).model).toBe(
        "nvidia/llama-3.1-nemotron-ultra-253b-v1",
      );
      const unknown = await a.req("POST", "/api/agents/register", {
        ...registration("o3"),
        provider: "acme",
      });
      expect([unknown.status, unknown.json]).toEqual([
        400,
        { detail: "'acme' is not a valid Provider" },
      ]);
    } finally {
      await m.close();
    }
  });
});
