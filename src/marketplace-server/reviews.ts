import type { FastifyInstance } from "fastify";
import { ReviewBody } from "../contract/requests.ts";
import { ROUTES } from "../contract/routes.ts";
import { isoTime } from "../contract/time.ts";
import { badRequest, notFound } from "./errors.ts";
import { MoneyStore } from "./money-store.ts";
import { Payments } from "./payments.ts";
import { recordRating } from "./ratings.ts";
import type { JobDoc, MarketplaceStore } from "./store.ts";
import { parseBody } from "./validation.ts";

/**
 * The human review of hosted work (marketplace-api.md, "Reviews"; the service's api.py
 * review endpoints): the poster accepts, partially accepts or rejects a `pending_review`
 * job with a rating 0..1. Accept releases the agreed price (the job's final_price_usd or
 * its budget), partial half of it, both counting a completed job; reject refunds the
 * poster and counts a failed one. Every review adds to the agent's rating.
 */

const DECISIONS = new Set(["accept", "partial", "reject"]);

interface PaymentOutcome {
  decision: string;
  payment_status?: "released" | "partial" | "refunded";
  amount_paid?: number;
  amount_refunded?: number;
  txn_id?: string | null;
  error?: string;
}

export class Reviews {
  readonly #store: MarketplaceStore;
  readonly #payments: Payments;
  readonly #now: () => Date;

  constructor(store: MarketplaceStore, payments: Payments, now: () => Date) {
    this.#store = store;
    this.#payments = payments;
    this.#now = now;
  }

  /** Jobs awaiting review among the newest 100, each with its agent's name when known. */
  pending() {
    const jobs = this.#store.newestJobs({ status: "pending_review" });
    const agents = this.#store.agentsById(
      jobs.map((j) => j.assigned_agent_id).filter((id): id is string => id !== null),
    );
    const pending = jobs.map((job) => {
      const agent = job.assigned_agent_id ? agents.get(job.assigned_agent_id) : undefined;
      return agent ? { ...job, agent_name: agent.name } : job;
    });
    return { pending_reviews: pending, count: pending.length };
  }

  #pendingJob(jobId: string): JobDoc {
    const job = this.#store.getJob(jobId);
    if (!job) throw notFound("Job");
    if (job.status !== "pending_review") {
      throw badRequest(`Job is not pending review (status: ${job.status})`);
    }
    return job;
  }

  /** What the reviewer sees: the work and the AI's suggestion. */
  forReview(jobId: string) {
    const job = this.#pendingJob(jobId);
    const agentId = job.assigned_agent_id;
    const agent = agentId ? this.#store.getAgent(agentId) : null;
    return {
      job_id: jobId,
      title: job.title,
      description: job.description,
      result: job.result,
      ai_quality_suggestion: job.ai_quality_suggestion ?? null,
      agent_id: agentId,
      agent_name: agent?.name ?? null,
      budget_usd: job.budget_usd,
      status: job.status,
    };
  }

  submit(jobId: string, review: ReviewBody) {
    return this.#store.transaction(() => {
      const job = this.#pendingJob(jobId);
      if (!DECISIONS.has(review.decision)) {
        throw badRequest("Decision must be 'accept', 'partial', or 'reject'");
      }
      if (!(review.rating >= 0 && review.rating <= 1)) {
        throw badRequest("Rating must be between 0.0 and 1.0");
      }
      const now = isoTime(this.#now());
      this.#store.updateJob(jobId, {
        status: "completed",
        quality_score: review.rating,
        human_review_decision: review.decision,
        human_review_rating: review.rating,
        human_review_feedback: review.feedback,
        reviewed_by: review.reviewer_id,
        reviewed_at: now,
        completed_at: now,
      });
      const payment = this.#pay(job, review.decision);
      const agentId = job.assigned_agent_id;
      if (agentId && this.#store.getAgent(agentId)) {
        recordRating(this.#store, agentId, review.rating);
      }
      return {
        job_id: jobId,
        status: "completed",
        human_review: {
          decision: review.decision,
          rating: review.rating,
          feedback: review.feedback,
          reviewer: review.reviewer_id,
        },
        payment,
        message: `Review submitted. Payment ${payment.payment_status ?? "processing"}.`,
      };
    });
  }

  /**
   * Pays by the decision, as the service does: a failed release is reported in the
   * answer (`error`), not raised, and then counts nothing for the agent; a refund that
   * finds no active escrow still reports `refunded`, with no transaction.
   */
  #pay(job: JobDoc, decision: string): PaymentOutcome {
    const outcome: PaymentOutcome = { decision };
    const escrowId = job.escrow_txn_id;
    const agentId = job.assigned_agent_id ?? "";
    const agent = agentId ? this.#store.getAgent(agentId) : null;
    const agreed = job.final_price_usd || job.budget_usd || 0;
    if (!escrowId) {
      outcome.error = "No escrow found";
      return outcome;
    }
    if (decision === "reject") {
      const refund = this.#payments.refund(escrowId);
      outcome.payment_status = "refunded";
      outcome.amount_refunded = agreed;
      outcome.txn_id = refund?.txn_id ?? null;
      if (agent) {
        this.#store.updateAgent(agentId, { jobs_failed: (agent.jobs_failed ?? 0) + 1 });
      }
      return outcome;
    }
    const amount = decision === "partial" ? agreed * 0.5 : agreed;
    try {
      const txn = this.#payments.release(escrowId, agentId, agent?.wallet_address ?? "", amount);
      outcome.payment_status = decision === "partial" ? "partial" : "released";
      outcome.amount_paid = amount;
      outcome.txn_id = txn.txn_id;
    } catch (error) {
      outcome.error = error instanceof Error ? error.message : String(error);
      return outcome;
    }
    if (agent) {
      // The release has added what it paid; the service then writes the total it read
      // before the release plus the amount, so the total grows by the amount, once.
      this.#store.updateAgent(agentId, {
        jobs_completed: agent.jobs_completed + 1,
        total_earned_usd: agent.total_earned_usd + amount,
      });
    }
    return outcome;
  }
}

interface JobParams {
  Params: { job_id: string };
}

export function registerReviewRoutes(
  app: FastifyInstance,
  store: MarketplaceStore,
  now: () => Date,
): void {
  const reviews = new Reviews(store, new Payments(store, new MoneyStore(store), now), now);
  app.get(ROUTES.pendingReviews.path, async () => reviews.pending());
  app.get<JobParams>(ROUTES.getReview.path, async (req) => reviews.forReview(req.params.job_id));
  app.post<JobParams>(ROUTES.submitReview.path, async (req) =>
    reviews.submit(req.params.job_id, parseBody(ReviewBody, req.body)),
  );
}
