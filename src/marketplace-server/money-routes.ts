import type { FastifyInstance } from "fastify";
import { z } from "zod";
import { AuthService, authRequired, bearerToken, notOwner, ownsAgent } from "./auth.ts";
import { MoneyStore } from "./money-store.ts";
import { NegotiationRules } from "./negotiation.ts";
import { Payments } from "./payments.ts";
import { AcceptCounterQuery, CompleteQuery, CounterBody } from "./schemas.ts";
import type { MarketplaceStore } from "./store.ts";
import { parseBody, parseQuery, str } from "./validation.ts";

const ChallengeQuery = z.object({ wallet: str() });
const VerifyBody = z.object({ wallet: str(), signature: str(), nonce: str() });

interface IdParams {
  Params: { bid_id?: string; job_id?: string; agent_id?: string; txn_id?: string };
}

/**
 * Identity, negotiation and payment routes of the embedded marketplace, and the
 * ownership rule on heartbeats (authentication optional) and on PUT/DELETE of an agent
 * (required). Registered before the other routes so that the hook covers them.
 */
export function registerMoneyRoutes(
  app: FastifyInstance,
  store: MarketplaceStore,
  now: () => Date,
): void {
  const money = new MoneyStore(store);
  const auth = new AuthService(store, money, now);
  const negotiation = new NegotiationRules(store, now);
  const payments = new Payments(store, money, now);
  const caller = (req: { headers: { authorization?: string } }) =>
    auth.walletOf(req.headers.authorization);

  app.addHook("preHandler", async (req) => {
    const url = req.routeOptions.url;
    const heartbeat = req.method === "POST" && url === "/api/agents/:agent_id/heartbeat";
    const change =
      (req.method === "PUT" || req.method === "DELETE") && url === "/api/agents/:agent_id";
    if (!heartbeat && !change) return;
    const wallet = await caller(req);
    if (wallet === null) {
      if (change) throw authRequired();
      return; // a heartbeat without (valid) authentication is allowed
    }
    const agentId = (req.params as { agent_id?: string }).agent_id ?? "";
    const agent = store.getAgent(agentId);
    if (agent && !ownsAgent(wallet, agent)) throw notOwner(); // unknown: the route's 404
  });

  app.get("/api/auth/challenge", async (req) =>
    auth.challenge(parseQuery(ChallengeQuery, req.query).wallet),
  );
  app.post("/api/auth/verify", async (req) => auth.verify(parseBody(VerifyBody, req.body)));
  app.get("/api/auth/me", async (req) => auth.me(bearerToken(req.headers.authorization)));
  app.post("/api/auth/logout", async (req) => auth.logout(bearerToken(req.headers.authorization)));

  app.post<IdParams>("/api/bids/:bid_id/counter", async (req) => {
    const body = parseBody(CounterBody, req.body);
    return negotiation.counter(req.params.bid_id ?? "", body, await caller(req));
  });
  app.post<IdParams>("/api/bids/:bid_id/accept-counter", async (req) => {
    const { by } = parseQuery(AcceptCounterQuery, req.query);
    return negotiation.acceptCounter(req.params.bid_id ?? "", by, await caller(req));
  });
  app.post<IdParams>("/api/bids/:bid_id/approve", async (req) =>
    negotiation.approve(req.params.bid_id ?? "", await caller(req)),
  );
  app.post<IdParams>("/api/bids/:bid_id/reject", async (req) =>
    negotiation.reject(req.params.bid_id ?? "", await caller(req)),
  );
  app.get("/api/approvals/pending", async () => negotiation.pendingApprovals());

  app.post<IdParams>("/api/jobs/:job_id/complete", async (req) =>
    payments.complete(req.params.job_id ?? "", parseQuery(CompleteQuery, req.query).quality_score),
  );
  app.get<IdParams>("/api/transactions/:txn_id", async (req) =>
    payments.transaction(req.params.txn_id ?? ""),
  );
}
