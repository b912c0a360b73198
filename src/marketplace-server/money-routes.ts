import type { FastifyInstance } from "fastify";
import {
  AcceptCounterQuery,
  ChallengeQuery,
  CompleteQuery,
  CounterBody,
  VerifyBody,
} from "../contract/requests.ts";
import { ROUTES } from "../contract/routes.ts";
import { AuthService, authRequired, bearerToken, notOwner, ownsAgent } from "./auth.ts";
import { MoneyStore } from "./money-store.ts";
import { NegotiationRules } from "./negotiation.ts";
import { Payments } from "./payments.ts";
import type { MarketplaceStore } from "./store.ts";
import { parseBody, parseQuery } from "./validation.ts";

interface IdParams {
  Params: { bid_id?: string; job_id?: string; agent_id?: string; txn_id?: string };
}

/**
 * Identity, negotiation and payment routes of the embedded marketplace, and the
 * ownership rule on heartbeats and on PUT/DELETE of an agent (authentication optional;
 * when present, the caller must own the agent). Registered before the other routes so
 * that the hook covers them.
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
  // `require_auth` is a dependency on the service: FastAPI runs it before it validates the
  // request and before the handler looks the bid up, so no session is a 401 first.
  const authenticated = async (req: { headers: { authorization?: string } }) => {
    const wallet = await caller(req);
    if (wallet === null) throw authRequired();
    return wallet;
  };

  app.addHook("preHandler", async (req) => {
    const url = req.routeOptions.url;
    const heartbeat = req.method === "POST" && url === ROUTES.heartbeat.path;
    const change =
      (req.method === "PUT" || req.method === "DELETE") && url === ROUTES.updateAgent.path;
    if (!heartbeat && !change) return;
    // Without (valid) authentication anybody may heartbeat, change or delete an agent,
    // as on the service (`get_current_agent` is optional on all three).
    const wallet = await caller(req);
    if (wallet === null) return;
    const agentId = (req.params as { agent_id?: string }).agent_id ?? "";
    const agent = store.getAgent(agentId);
    if (agent && !ownsAgent(wallet, agent)) throw notOwner(); // unknown: the route's 404
  });

  app.get(ROUTES.authChallenge.path, async (req) =>
    auth.challenge(parseQuery(ChallengeQuery, req.query).wallet),
  );
  app.post(ROUTES.authVerify.path, async (req) => auth.verify(parseBody(VerifyBody, req.body)));
  app.get(ROUTES.authMe.path, async (req) => auth.me(bearerToken(req.headers.authorization)));
  app.post(ROUTES.authLogout.path, async (req) => auth.logout(req.headers.authorization));

  app.post<IdParams>(ROUTES.counterBid.path, async (req) => {
    const wallet = await authenticated(req);
    const body = parseBody(CounterBody, req.body);
    return negotiation.counter(req.params.bid_id ?? "", body, wallet);
  });
  app.post<IdParams>(ROUTES.acceptCounter.path, async (req) => {
    const wallet = await authenticated(req);
    const { by } = parseQuery(AcceptCounterQuery, req.query);
    return negotiation.acceptCounter(req.params.bid_id ?? "", by, wallet);
  });
  app.post<IdParams>(ROUTES.approveBid.path, async (req) =>
    negotiation.approve(req.params.bid_id ?? "", await authenticated(req)),
  );
  app.post<IdParams>(ROUTES.rejectBid.path, async (req) =>
    negotiation.reject(req.params.bid_id ?? "", await authenticated(req)),
  );
  app.get(ROUTES.pendingApprovals.path, async () => negotiation.pendingApprovals());

  app.post<IdParams>(ROUTES.completeJob.path, async (req) =>
    payments.complete(req.params.job_id ?? "", parseQuery(CompleteQuery, req.query).quality_score),
  );
  app.get<IdParams>(ROUTES.getTransaction.path, async (req) =>
    payments.transaction(req.params.txn_id ?? ""),
  );
}
