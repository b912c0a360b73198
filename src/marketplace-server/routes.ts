import type { FastifyInstance } from "fastify";
import {
  BidQuery,
  HeartbeatBody,
  JobsQuery,
  PostJobBody,
  RegisterBody,
  StatusQuery,
  SubmitResultBody,
  UpdateAgentBody,
} from "../contract/requests.ts";
import { ROUTES } from "../contract/routes.ts";
import type { MarketplaceRules } from "./rules.ts";
import { parseBody, parseQuery } from "./validation.ts";

interface AgentParams {
  Params: { agent_id: string };
}
interface JobParams {
  Params: { job_id: string };
}
interface SelectParams {
  Params: { job_id: string; bid_id: string };
}

/**
 * The AgentBazaar routes (docs/marketplace-api.md). Validation comes first, as in
 * FastAPI: a malformed request is a 422 even when the id in its path is unknown.
 */
export function registerRoutes(app: FastifyInstance, rules: MarketplaceRules): void {
  app.get(ROUTES.root.path, async () => ({
    name: "AgentBazaar (embedded)",
    status: "operational",
    embedded: true,
  }));

  // --- agents ---
  app.post(ROUTES.registerAgent.path, async (req) =>
    rules.register(parseBody(RegisterBody, req.body)),
  );
  app.get(ROUTES.listAgents.path, async () => rules.listAgents());
  app.get<AgentParams>(ROUTES.getAgent.path, async (req) => rules.getAgent(req.params.agent_id));
  app.put<AgentParams>(ROUTES.updateAgent.path, async (req) =>
    rules.updateAgent(req.params.agent_id, parseBody(UpdateAgentBody, req.body)),
  );
  app.delete<AgentParams>(ROUTES.deleteAgent.path, async (req) =>
    rules.deleteAgent(req.params.agent_id),
  );
  app.post<AgentParams>(ROUTES.heartbeat.path, async (req) =>
    rules.heartbeat(req.params.agent_id, parseBody(HeartbeatBody, req.body)),
  );
  app.get<AgentParams>(ROUTES.agentJobs.path, async (req) =>
    rules.agentJobs(req.params.agent_id, parseQuery(StatusQuery, req.query).status),
  );

  // --- jobs ---
  app.post(ROUTES.postJob.path, async (req) => rules.postJob(parseBody(PostJobBody, req.body)));
  app.get(ROUTES.listJobs.path, async (req) => rules.listJobs(parseQuery(JobsQuery, req.query)));
  app.get<JobParams>(ROUTES.getJob.path, async (req) => rules.getJob(req.params.job_id));
  app.delete<JobParams>(ROUTES.deleteJob.path, async (req) => rules.deleteJob(req.params.job_id));

  // --- bids: placed with QUERY parameters, as on the real service ---
  app.get<JobParams>(ROUTES.listBids.path, async (req) => rules.listBids(req.params.job_id));
  app.post<JobParams>(ROUTES.placeBid.path, async (req) =>
    rules.placeBid(req.params.job_id, parseQuery(BidQuery, req.query)),
  );
  app.post<SelectParams>(ROUTES.selectBid.path, async (req) =>
    rules.selectBid(req.params.job_id, req.params.bid_id),
  );
  // counter, accept-counter, approve, reject, complete and sign-in: money-routes.ts

  // --- results ---
  app.post<JobParams>(ROUTES.submitResult.path, async (req) =>
    rules.submitResult(req.params.job_id, parseBody(SubmitResultBody, req.body)),
  );
}
