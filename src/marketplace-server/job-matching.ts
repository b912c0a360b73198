import type { AgentDoc, JobDoc } from "./store.ts";

/**
 * `GET /api/jobs/{job_id}/matches`. The service ranks agents by Voyage embeddings and
 * LLM validation (jobs/match.py `_hybrid_match`); neither is available here, so the
 * ranking is the service's own capability fallback (`_simple_match`): available agents
 * that meet every required capability, scored by capability (50%), reputation (30%) and
 * price fit (20%). The same job and agents always give the same list.
 */

export type MatchedAgent = AgentDoc & { match_score: number };

/** Reputation as the service weighs it: rating and success rate, or success rate alone. */
function reputation(agent: AgentDoc): number {
  const rating = agent.rating_avg ?? 0;
  const done = agent.jobs_completed;
  const failed = agent.jobs_failed ?? 0;
  const successRate = done + failed > 0 ? done / (done + failed) : 0.5;
  return rating ? (rating / 5) * 0.6 + successRate * 0.4 : successRate;
}

/** The service's `_calculate_simple_score`, rounded to 3 places. */
export function simpleMatchScore(job: JobDoc, agent: AgentDoc): number {
  let total = 0;
  if (job.required_capabilities.length > 0) {
    const scores = job.required_capabilities.map((cap) => agent.capabilities[cap] ?? 0);
    total += (scores.reduce((a, b) => a + b, 0) / scores.length) * 0.5;
  } else {
    total += 0.5;
  }
  total += reputation(agent) * 0.3;
  const rate = agent.base_rate_usd;
  // A budget of 0 divides by zero on the service; here a free rate fits a free job.
  const price =
    rate <= job.budget_usd ? (job.budget_usd > 0 ? 1 - (rate / job.budget_usd) * 0.3 : 1) : 0;
  total += price * 0.2;
  return Math.round(total * 1000) / 1000;
}

/**
 * The best `limit` matches: db.py `find_available_agents` (available, every required
 * capability at least the job's minimum, by rating then jobs completed, `limit × 2` of
 * them), then by score. A negative limit slices as Python's `[:limit]` does.
 */
export function matchAgents(
  job: JobDoc,
  agents: readonly AgentDoc[],
  limit: number,
): MatchedAgent[] {
  const candidates = agents
    .filter(
      (a) =>
        a.status === "available" &&
        job.required_capabilities.every(
          (cap) => (a.capabilities[cap] ?? Number.NEGATIVE_INFINITY) >= job.min_capability_score,
        ),
    )
    .sort(
      (a, b) => (b.rating_avg ?? 0) - (a.rating_avg ?? 0) || b.jobs_completed - a.jobs_completed,
    );
  // MongoDB reads a limit of 0 as none and a negative one as its absolute value.
  const fetch = Math.abs(limit * 2);
  const fetched = fetch === 0 ? candidates : candidates.slice(0, fetch);
  const scored = fetched
    .map((agent) => ({ ...agent, match_score: simpleMatchScore(job, agent) }))
    .sort((a, b) => b.match_score - a.match_score);
  return scored.slice(0, limit);
}
