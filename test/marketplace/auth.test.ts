import { Agent } from "undici";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { route } from "../../src/contract/routes.ts";
import { isOwnershipError, Sessions, type Signer } from "../../src/marketplace/auth.ts";
import { MarketplaceClient } from "../../src/marketplace/client.ts";
import { isMarketplaceError } from "../../src/marketplace/errors.ts";
import { type RunningMarketplace, startMarketplace } from "../../src/marketplace-server/index.ts";
import { api, newAccount, registerAgent } from "../support/marketplace-requests.ts";

/** The sign-in client against the embedded marketplace, over loopback. */

let market: RunningMarketplace;
let client: MarketplaceClient;
const dispatcher = new Agent();

beforeAll(async () => {
  market = await startMarketplace({ dbPath: ":memory:", port: 0 });
  client = new MarketplaceClient({ baseUrl: market.url, dispatcher, maxAttempts: 1 });
});
afterAll(async () => {
  await market.close();
  await dispatcher.close();
});

const heartbeat = (agentId: string, token?: string) =>
  client.heartbeat(agentId, { status: "available", current_capacity: 1 }, undefined, token);

describe("Sessions", () => {
  it("signs in with EIP-712 once per wallet and the token carries heartbeats", async () => {
    const owner = newAccount();
    const agentId = await registerAgent(api(market.url), { wallet_address: owner.address });
    const sessions = new Sessions({ transport: client.transport });
    const [a, b] = await Promise.all([sessions.token(owner), sessions.token(owner)]);
    expect(a).toBe(b);
    expect(sessions.signIns).toBe(1);
    expect(sessions.session(owner.address)?.method).toBe("eip712");
    expect((await sessions.me(a)).wallet).toBe(owner.address.toLowerCase());
    await sessions.withSession(owner, (token) => heartbeat(agentId, token));
    expect(sessions.signIns).toBe(1);
  });

  it("a signature by the wrong key is refused with 401, typed data and personal_sign alike", async () => {
    const claimed = newAccount();
    const actual = newAccount();
    const impostor: Signer = {
      address: claimed.address,
      signTypedData: actual.signTypedData,
      signMessage: actual.signMessage,
    };
    const sessions = new Sessions({ transport: client.transport });
    const error = await sessions.token(impostor).catch((e: unknown) => e);
    expect(isMarketplaceError(error, 401)).toBe(true);
    expect(sessions.signIns).toBe(0);
  });

  it("a heartbeat for someone else's agent is a 403 ownership error", async () => {
    const agentId = await registerAgent(api(market.url), { wallet_address: newAccount().address });
    const stranger = newAccount();
    const sessions = new Sessions({ transport: client.transport });
    const error = await sessions
      .withSession(stranger, (token) => heartbeat(agentId, token))
      .catch((e: unknown) => e);
    expect(isOwnershipError(error)).toBe(true);
    expect(sessions.signIns).toBe(1); // not retried with a fresh sign-in
  });

  it("renews before expiry, and after a 401", async () => {
    const owner = newAccount();
    const agentId = await registerAgent(api(market.url), { wallet_address: owner.address });
    let now = Date.now();
    const sessions = new Sessions({ transport: client.transport, now: () => now });
    const first = await sessions.token(owner);
    now += 22 * 3600_000; // still more than an hour left: kept
    expect(await sessions.token(owner)).toBe(first);
    now += 1.5 * 3600_000; // within the last hour of 24: renewed
    const second = await sessions.token(owner);
    expect(second).not.toBe(first);
    expect(sessions.signIns).toBe(2);

    // The service forgets the session (logout): the next call that requires a session
    // gets 401, signs in again, and goes through. (A call where authentication is
    // optional, as on PUT /api/agents/{id}, goes through anonymously instead.)
    await api(market.url).req("POST", "/api/auth/logout", undefined, {
      authorization: `Bearer ${second}`,
    });
    const answer = await sessions.withSession(owner, (token) =>
      client.transport.call({
        route: route("authMe"),
        schema: z.looseObject({ wallet: z.string(), agent_id: z.string() }),
        token,
      }),
    );
    expect(answer.agent_id).toBe(agentId);
    expect(sessions.signIns).toBe(3);
  });
});
