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
