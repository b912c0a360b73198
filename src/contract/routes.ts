/**
 * The routes of the AgentBazaar API (the real service's api.py), one table for both
 * sides: the embedded marketplace registers each route at its `path`, and the client
 * builds each call from the same entry, so neither can name a route the other lacks
 * (test/contract/routes.test.ts walks the table against the embedded marketplace).
 * Path parameters carry the service's names (`{job_id}` there, `:job_id` here).
 */

export type Method = "GET" | "POST" | "PUT" | "DELETE";

/**
 * Which sides use a route: `both` when the marketplace serves it and our client calls
 * it; `marketplace` when it is served for other callers only (the service's web UI,
 * operators, poster tools).
 */
export type RouteSide = "both" | "marketplace";

export interface RouteSpec {
  readonly method: Method;
  readonly path: `/${string}`;
  readonly side: RouteSide;
}

export const ROUTES = {
  root: { method: "GET", path: "/", side: "marketplace" },

  // Identity
  authChallenge: { method: "GET", path: "/api/auth/challenge", side: "both" },
  authVerify: { method: "POST", path: "/api/auth/verify", side: "both" },
  authMe: { method: "GET", path: "/api/auth/me", side: "both" },
  authLogout: { method: "POST", path: "/api/auth/logout", side: "marketplace" },

  // Agents
  registerAgent: { method: "POST", path: "/api/agents/register", side: "both" },
  listAgents: { method: "GET", path: "/api/agents", side: "both" },
  getAgent: { method: "GET", path: "/api/agents/:agent_id", side: "both" },
  updateAgent: { method: "PUT", path: "/api/agents/:agent_id", side: "both" },
  deleteAgent: { method: "DELETE", path: "/api/agents/:agent_id", side: "marketplace" },
  heartbeat: { method: "POST", path: "/api/agents/:agent_id/heartbeat", side: "both" },
  agentJobs: { method: "GET", path: "/api/agents/:agent_id/jobs", side: "both" },

  // Jobs
  postJob: { method: "POST", path: "/api/jobs", side: "both" },
  listJobs: { method: "GET", path: "/api/jobs", side: "both" },
  deleteAllJobs: { method: "DELETE", path: "/api/jobs", side: "marketplace" },
  getJob: { method: "GET", path: "/api/jobs/:job_id", side: "both" },
  deleteJob: { method: "DELETE", path: "/api/jobs/:job_id", side: "both" },
  jobMatches: { method: "GET", path: "/api/jobs/:job_id/matches", side: "marketplace" },
  refundJob: { method: "POST", path: "/api/jobs/:job_id/refund", side: "marketplace" },
  demoStatus: { method: "GET", path: "/api/demo/status", side: "marketplace" },

  // Bids
  listBids: { method: "GET", path: "/api/jobs/:job_id/bids", side: "both" },
  placeBid: { method: "POST", path: "/api/jobs/:job_id/bids", side: "both" },
  selectBid: { method: "POST", path: "/api/jobs/:job_id/select-bid/:bid_id", side: "both" },

  // Negotiation
  counterBid: { method: "POST", path: "/api/bids/:bid_id/counter", side: "both" },
  acceptCounter: { method: "POST", path: "/api/bids/:bid_id/accept-counter", side: "both" },
  approveBid: { method: "POST", path: "/api/bids/:bid_id/approve", side: "both" },
  rejectBid: { method: "POST", path: "/api/bids/:bid_id/reject", side: "both" },
  autoNegotiate: { method: "POST", path: "/api/bids/:bid_id/auto-negotiate", side: "marketplace" },
  pendingApprovals: { method: "GET", path: "/api/approvals/pending", side: "both" },

  // Work, sign-off and payment
  executeJob: { method: "POST", path: "/api/jobs/:job_id/execute", side: "marketplace" },
  submitResult: { method: "POST", path: "/api/jobs/:job_id/submit-result", side: "both" },
  completeJob: { method: "POST", path: "/api/jobs/:job_id/complete", side: "both" },
  getTransaction: { method: "GET", path: "/api/transactions/:txn_id", side: "both" },
  pendingReviews: { method: "GET", path: "/api/reviews/pending", side: "marketplace" },
  getReview: { method: "GET", path: "/api/jobs/:job_id/review", side: "marketplace" },
  submitReview: { method: "POST", path: "/api/jobs/:job_id/review", side: "marketplace" },
  exportResult: { method: "GET", path: "/api/jobs/:job_id/result/export", side: "marketplace" },

  // Files
  allowedFileTypes: { method: "GET", path: "/api/files/allowed-types", side: "marketplace" },
  uploadJobFile: { method: "POST", path: "/api/jobs/:job_id/files", side: "both" },
  listJobFiles: { method: "GET", path: "/api/jobs/:job_id/files", side: "both" },
  downloadJobFile: { method: "GET", path: "/api/jobs/:job_id/files/:file_id", side: "both" },
  deleteJobFile: {
    method: "DELETE",
    path: "/api/jobs/:job_id/files/:file_id",
    side: "marketplace",
  },
} as const satisfies Record<string, RouteSpec>;

export type RouteName = keyof typeof ROUTES;

/** A route as one string, `METHOD /path/:param`: how the client names a call. */
export type RouteKey<N extends RouteName = RouteName> =
  `${(typeof ROUTES)[N]["method"]} ${(typeof ROUTES)[N]["path"]}`;

/** The route `name` as `METHOD /path` (`route("placeBid")` → `POST /api/jobs/:job_id/bids`). */
export function route<N extends RouteName>(name: N): RouteKey<N> {
  const spec: RouteSpec = ROUTES[name];
  return `${spec.method} ${spec.path}` as RouteKey<N>;
}

/**
 * The short name of a route in the runner's metrics and error messages: the first
 * parameter is `:id`, a later one loses its `_id` (`POST /api/jobs/:job_id/select-bid/
 * :bid_id` → `POST /api/jobs/:id/select-bid/:bid`), the labels the runner has always
 * reported. A route already in that form is left as it is.
 */
export function routeLabel(key: string): string {
  let first = true;
  return key.replace(/:([A-Za-z_]\w*)/g, (_match, name: string) => {
    const short = first ? "id" : name.replace(/_id$/, "");
    first = false;
    return `:${short}`;
  });
}
