import type { FastifyInstance } from "fastify";
import type { MarketplaceRules } from "./rules.ts";
import {
  BidQuery,
  HeartbeatBody,
  JobsQuery,
  PostJobBody,
  RegisterBody,
  StatusQuery,
  SubmitResultBody,
  UpdateAgentBody,
} from "./schemas.ts";
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
  app.get("/", async () => ({
    name: "AgentBazaar (embedded)",
    status: "operational",
    embedded: true,
  }));

  // --- agents ---
  app.post("/api/agents/register", async (req) =>
    rules.register(parseBody(RegisterBody, req.body)),
  );
  app.get("/api/agents", async () => rules.listAgents());
  app.get<AgentParams>("/api/agents/:agent_id", async (req) => rules.getAgent(req.params.agent_id));
  app.put<AgentParams>("/api/agents/:agent_id", async (req) =>
    rules.updateAgent(req.params.agent_id, parseBody(UpdateAgentBody, req.body)),
  );
  app.delete<AgentParams>("/api/agents/:agent_id", async (req) =>
    rules.deleteAgent(req.params.agent_id),
  );
  app.post<AgentParams>("/api/agents/:agent_id/heartbeat", async (req) =>
    rules.heartbeat(req.params.agent_id, parseBody(HeartbeatBody, req.body)),
  );
  app.get<AgentParams>("/api/agents/:agent_id/jobs", async (req) =>
    rules.agentJobs(req.params.agent_id, parseQuery(StatusQuery, req.query).status),
  );

  // --- jobs ---
  app.post("/api/jobs", async (req) => rules.postJob(parseBody(PostJobBody, req.body)));
  app.get("/api/jobs", async (req) => rules.listJobs(parseQuery(JobsQuery, req.query)));
  app.get<JobParams>("/api/jobs/:job_id", async (req) => rules.getJob(req.params.job_id));
  app.delete<JobParams>("/api/jobs/:job_id", async (req) => rules.deleteJob(req.params.job_id));

  // --- bids: placed with QUERY parameters, as on the real service ---
  app.get<JobParams>("/api/jobs/:job_id/bids", async (req) => rules.listBids(req.params.job_id));
  app.post<JobParams>("/api/jobs/:job_id/bids", async (req) =>
    rules.placeBid(req.params.job_id, parseQuery(BidQuery, req.query)),
  );
  app.post<SelectParams>("/api/jobs/:job_id/select-bid/:bid_id", async (req) =>
    rules.selectBid(req.params.job_id, req.params.bid_id),
  );
  // counter, accept-counter, approve, reject, complete and sign-in: money-routes.ts

  // --- results ---
  app.post<JobParams>("/api/jobs/:job_id/submit-result", async (req) =>
    rules.submitResult(req.params.job_id, parseBody(SubmitResultBody, req.body)),
  );
}
