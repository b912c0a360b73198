import type { MarketplaceStore } from "./store.ts";

/**
 * An agent's reputation fields, written exactly where the service writes them:
 * - `rating_avg` (0..5, the mean of rating × 5) and `rating_count`: every human review;
 * - `jobs_completed`: a review that accepts or partially accepts;
 * - `jobs_failed`: a review that rejects, and a hosted execution that fails;
 * - `total_earned_usd`: a payment released (payments.ts, and the review's own write);
 * - `dispute_rate`: nothing writes it on the service; it stays 0.
 * `complete` touches none of these but total_earned_usd.
 */

/** Adds one review's rating (0..1) to the agent's average, on the 0..5 scale, capped at 5. */
export function recordRating(store: MarketplaceStore, agentId: string, rating: number): void {
  const agent = store.getAgent(agentId);
  if (!agent) return;
  const count = agent.rating_count ?? 0;
  const average = agent.rating_avg ?? 0;
  const next = count + 1;
  store.updateAgent(agentId, {
    rating_avg: Math.min(5, (average * count + rating * 5) / next),
    rating_count: next,
  });
}

/** One more failed job (a rejected review, or a hosted execution that failed). */
export function countFailedJob(store: MarketplaceStore, agentId: string): void {
  store.db
    .prepare("UPDATE agents SET jobs_failed = jobs_failed + 1 WHERE agent_id = ?")
    .run(agentId);
}
