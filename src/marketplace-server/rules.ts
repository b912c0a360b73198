import { randomBytes } from "node:crypto";
import type { z } from "zod";
import type {
  BidQuery,
  HeartbeatBody,
  PostJobBody,
  RegisterBody,
  SubmitResultBody,
  UpdateAgentBody,
} from "../contract/requests.ts";
import type {
  AgentListing,
  BidListing,
  HeartbeatResponse,
  JobSchema,
  JobWithBidsSchema,
  PlaceBidResponse,
  PostJobResponse,
  RegisterAgentResponse,
  SelectBidResponse,
  SubmitResultResponse,
} from "../contract/responses.ts";
import type { BidStatus, HeartbeatStatus, JobStatus } from "../contract/statuses.ts";
import { isoTime, parseTime } from "../contract/time.ts";
import { ApiError, badRequest, InternalError, notFound } from "./errors.ts";
import { newId } from "./ids.ts";
import { matchAgents } from "./job-matching.ts";
import { MoneyStore } from "./money-store.ts";
import { escrowTransaction } from "./payments.ts";
import type { AgentDoc, BidDoc, JobDoc, JobFilter, MarketplaceStore } from "./store.ts";
import type { WebhookResult } from "./webhooks.ts";

/** A set of statuses spelled from the shared vocabulary, tested against stored strings. */
const statuses = <S extends string>(...values: S[]): ReadonlySet<string> => new Set(values);

/** Job statuses that take bids, and those in which a winner may still be chosen. */
const BIDDABLE = statuses<JobStatus>("open", "posted", "bidding");
const SELECTABLE = statuses<JobStatus>(
  "open",
  "posted",
  "bidding",
  "negotiating",
  "awaiting_approval",
);
/** Bids still in the running for a job: they may be negotiated, selected or rejected. */
const LIVE_BIDS = statuses<BidStatus>(
  "pending",
  "awaiting_approval",
  "counter_offered",
  "counter_accepted",
);
const HEARTBEAT_STATUSES = statuses<HeartbeatStatus>("available", "busy", "offline");
const EXECUTION_MODES = ["self_hosted", "webhook", "hosted"];
/** The service's providers (models.py `Provider`) and the model each defaults to (register.py). */
const DEFAULT_MODELS: Record<string, string> = {
  fireworks: "accounts/fireworks/models/llama-v3p3-70b-instruct",
  nvidia: "nvidia/llama-3.1-nemotron-ultra-253b-v1",
  openai: "gpt-4-turbo-preview",
};
/** A new agent's capabilities when none are given (models.py `AgentCapabilities`). */
const DEFAULT_CAPABILITIES = [
  "summarization",
  "sentiment_analysis",
  "data_extraction",
  "pattern_recognition",
  "code_review",
  "aggregation",
  "classification",
  "anomaly_detection",
] as const;
/** Bids (and counter-offers) at or above this price wait for the poster's approval. */
export const APPROVAL_THRESHOLD_USD = 10;
/** api.py create_job: "0x" and 42 characters in all; hex is not checked (the UI posts a non-hex one). */
const WALLET = /^0x.{40}$/su;
/** Agents a new job is matched with (api.py: `match_agents_to_job(job)`, limit 10). */
const MATCH_LIMIT = 10;

export interface MarketplaceRulesOptions {
  registrationCooldownSeconds: number;
  now: () => Date;
  /** Called after a job receives its first bid (auto-award arms its timer here). */
  onFirstBid?: (jobId: string, at: Date) => void;
  /** Called after a job is posted, with the agents the service matched (webhooks go here). */
  onJobPosted?: (job: JobDoc, matched: AgentDoc[]) => void;
  /** Called after a bid is selected, with the assigned job and the winning agent. */
  onBidSelected?: (job: JobDoc, winner: AgentDoc) => void;
}

/** A job as the client reads it: what it may leave to the schema's defaults may be absent. */
type JobAnswer = z.input<typeof JobSchema>;

/** A job listing as the service answers it (the client checks its jobs one by one). */
export interface JobPage {
  jobs: JobAnswer[];
  count: number;
}

/*
 * Answers of the routes the runner's client does not call, declared here; the others
 * are the client's own response types (src/marketplace/schemas.ts), so that tsc checks
 * the embedded marketplace answers what the client parses.
 */
interface Confirmation {
  success: true;
}
export interface UpdateAgentResponse extends Confirmation {
  agent_id: string;
  updated_fields: string[];
}
export interface DeleteAgentResponse extends Confirmation {
  agent_id: string;
  message: string;
}
export interface DeleteJobResponse extends Confirmation {
  job_id: string;
  message: string;
}

/**
 * The AgentBazaar rules over the store. Every method either returns the response body
 * or throws an ApiError; a change of more than one row runs in one transaction.
 */
export class MarketplaceRules {
  readonly store: MarketplaceStore;
  readonly #options: MarketplaceRulesOptions;
  readonly #money: MoneyStore;

  constructor(store: MarketplaceStore, options: MarketplaceRulesOptions) {
    this.store = store;
    this.#options = options;
    this.#money = new MoneyStore(store);
  }

  #now(): string {
    return isoTime(this.#options.now());
  }

  // --- agents ---

  register(body: RegisterBody): RegisterAgentResponse {
    if (!EXECUTION_MODES.includes(body.execution_mode)) {
      throw badRequest(
        `Invalid execution_mode. Must be one of: ['self_hosted', 'webhook', 'hosted']`,
      );
    }
    if (body.execution_mode === "webhook" && !body.webhook_url) {
      throw badRequest("webhook_url is required when execution_mode is 'webhook'");
    }
    // The cooldown comes before the wallet lookup, as on the real service.
    this.#checkCooldown(body.owner_id);
    const now = this.#now();
    return this.store.transaction(() => {
      // register.py looks the wallet up only when one is given; "" makes a new agent.
      const existing = body.wallet_address
        ? this.store.findAgentByWallet(body.wallet_address)
        : null;
      let agent: AgentDoc;
      if (existing) {
        // register.py: the agent is available again with a fresh last_active; then
        // api.py applies the mode, and the webhook and capabilities when given. Owner,
        // name and description stay. The answer shows the status it had before.
        const patch: Partial<AgentDoc> = {
          status: "available",
          last_active: now,
          execution_mode: body.execution_mode,
        };
        if (body.webhook_url) patch.webhook_url = body.webhook_url;
        if (body.capabilities && Object.keys(body.capabilities).length > 0) {
          patch.capabilities = body.capabilities;
        }
        this.store.updateAgent(existing.agent_id, patch);
        agent = existing;
      } else {
        if (!Object.hasOwn(DEFAULT_MODELS, body.provider)) {
          throw badRequest(`'${body.provider}' is not a valid Provider`);
        }
        const model = body.model || (DEFAULT_MODELS[body.provider] as string);
        const given = body.capabilities && Object.keys(body.capabilities).length > 0;
        agent = {
          agent_id: newId("agent"),
          name: body.name,
          description: body.description,
          owner_id: body.owner_id,
          // register.py makes one up (0x + 32 hex) when none is given.
          wallet_address: body.wallet_address || `0x${randomBytes(16).toString("hex")}`,
          execution_mode: body.execution_mode,
          webhook_url: body.webhook_url ?? null,
          provider: body.provider,
          model,
          base_rate_usd: body.base_rate_usd,
          rate_per_1k_tokens: body.rate_per_1k_tokens,
          capabilities: given
            ? (body.capabilities ?? {})
            : Object.fromEntries(DEFAULT_CAPABILITIES.map((c) => [c, 0])),
          status: "available",
          current_capacity: 1,
          heartbeat_metadata: null,
          last_active: now,
          created_at: now,
          jobs_completed: 0,
          total_earned_usd: 0,
        };
        this.store.insertAgent(agent);
      }
      this.store.setLastRegistration(body.owner_id, now);
      return {
        success: true,
        agent_id: agent.agent_id,
        name: agent.name,
        execution_mode: body.execution_mode,
        status: agent.status,
        wallet_address: body.wallet_address,
        message: `Agent registered with ${body.execution_mode} execution mode.`,
      };
    });
  }

  #checkCooldown(ownerId: string): void {
    const cooldown = this.#options.registrationCooldownSeconds;
    if (cooldown <= 0) return;
    const last = this.store.getLastRegistration(ownerId);
    if (!last) return;
    const elapsed = (this.#options.now().getTime() - parseTime(last).getTime()) / 1000;
    if (elapsed < cooldown) {
      // Rounded up (the real service truncates): "wait 0 seconds" would invite a busy loop.
      const remaining = Math.max(1, Math.ceil(cooldown - elapsed));
      throw new ApiError(
        429,
        `Rate limited. Please wait ${remaining} seconds before registering another agent.`,
        { "retry-after": String(remaining) },
      );
    }
  }

  /** The first 100 agents by rating, then jobs completed (db.py `get_all_agents`). */
  listAgents(): AgentListing {
    const agents = this.store.topAgents();
    return { agents, count: agents.length };
  }

  getAgent(agentId: string): AgentDoc {
    const agent = this.store.getAgent(agentId);
    if (!agent) throw notFound("Agent");
    return agent;
  }

  updateAgent(agentId: string, body: UpdateAgentBody): UpdateAgentResponse {
    this.getAgent(agentId);
    const patch: Partial<AgentDoc> = {};
    if (body.name != null) patch.name = body.name;
    if (body.description != null) patch.description = body.description;
    if (body.base_rate_usd != null) patch.base_rate_usd = body.base_rate_usd;
    if (body.rate_per_1k_tokens != null) patch.rate_per_1k_tokens = body.rate_per_1k_tokens;
    if (body.status != null) {
      if (!HEARTBEAT_STATUSES.has(body.status)) {
        throw badRequest("Invalid status. Must be: available, busy, or offline");
      }
      patch.status = body.status;
    }
    if (body.webhook_url != null) patch.webhook_url = body.webhook_url;
    if (Object.keys(patch).length === 0) throw badRequest("No fields to update");
    patch.last_active = this.#now();
    this.store.updateAgent(agentId, patch);
    return { success: true, agent_id: agentId, updated_fields: Object.keys(patch) };
  }

  deleteAgent(agentId: string): DeleteAgentResponse {
    const agent = this.getAgent(agentId);
    this.store.deleteAgent(agentId);
    return { success: true, agent_id: agentId, message: `Agent '${agent.name}' has been deleted` };
  }

  heartbeat(agentId: string, body: HeartbeatBody): HeartbeatResponse {
    this.getAgent(agentId);
    if (!HEARTBEAT_STATUSES.has(body.status)) {
      throw badRequest("Invalid status. Must be: available, busy, or offline");
    }
    const lastActive = this.#now();
    const patch: Partial<AgentDoc> = {
      status: body.status,
      last_active: lastActive,
      current_capacity: body.current_capacity,
    };
    if (body.metadata && Object.keys(body.metadata).length > 0) {
      patch.heartbeat_metadata = body.metadata;
    }
    this.store.updateAgent(agentId, patch);
    // As on the real service: an available agent hears of the posted jobs among the
    // newest 100, up to five.
    const pending =
      body.status === "available"
        ? this.store
            .newestJobs({ status: "posted" })
            .map((j) => ({ job_id: j.job_id, title: j.title, budget_usd: j.budget_usd }))
        : [];
    return {
      success: true,
      agent_id: agentId,
      status: body.status,
      last_active: lastActive,
      pending_jobs_count: pending.length,
      pending_jobs: pending.slice(0, 5),
    };
  }

  agentJobs(agentId: string, status: string | null | undefined): JobPage {
    this.getAgent(agentId);
    const jobs = this.store.newestJobs({ assigned_agent_id: agentId, status });
    return { jobs, count: jobs.length };
  }

  // --- jobs ---

  postJob(body: PostJobBody): PostJobResponse {
    if (!WALLET.test(body.poster_wallet)) {
      throw badRequest(
        "Valid wallet address required. Please connect your wallet before posting a job.",
      );
    }
    if (body.bid_deadline != null && Number.isNaN(parseTime(body.bid_deadline).getTime())) {
      throw badRequest("bid_deadline must be an ISO-8601 time");
    }
    const escrowId = newId("txn");
    const job: JobDoc = {
      job_id: newId("job"),
      poster_id: body.poster_id,
      poster_wallet: body.poster_wallet,
      title: body.title,
      description: body.description,
      task_type: body.task_type ?? "analysis",
      required_capabilities: body.required_capabilities,
      min_capability_score: body.min_capability_score ?? 0.7,
      data_context: body.data_context ?? null,
      attachments: [],
      budget_usd: body.budget_usd,
      deadline_minutes: body.deadline_minutes ?? 10,
      escrow_txn_id: escrowId,
      status: "posted",
      bid_count: 0,
      bid_deadline: body.bid_deadline ?? null,
      winning_bid_id: null,
      assigned_agent_id: null,
      final_price_usd: null,
      result: null,
      quality_score: null,
      created_at: this.#now(),
      assigned_at: null,
      completed_at: null,
    };
    // The job and its escrow (no payee yet: the marketplace holds the budget), together.
    this.store.transaction(() => {
      this.store.insertJob(job);
      this.#money.insertTransaction(escrowTransaction(job, escrowId, job.created_at));
    });
    // The service matches by embeddings and an LLM; here by capabilities (job-matching.ts).
    const matched = matchAgents(job, this.store.topAgents(), MATCH_LIMIT);
    this.#options.onJobPosted?.(job, matched);
    return {
      job_id: job.job_id,
      escrow_txn_id: job.escrow_txn_id,
      matched_agents: matched.map((a) => a.agent_id),
      status: "posted",
    };
  }

  /** The newest 100 jobs, then filtered: an older job is not listed, whatever its status. */
  listJobs(filter: JobFilter): JobPage {
    const jobs = this.store.newestJobs(filter);
    return { jobs, count: jobs.length };
  }

  getJob(jobId: string): z.input<typeof JobWithBidsSchema> {
    const job = this.#requireJob(jobId);
    return { ...job, bids: this.store.listBids(jobId) };
  }

  #requireJob(jobId: string): JobDoc {
    const job = this.store.getJob(jobId);
    if (!job) throw notFound("Job");
    return job;
  }

  deleteJob(jobId: string): DeleteJobResponse {
    const job = this.#requireJob(jobId);
    this.store.transaction(() => {
      this.store.deleteJob(jobId);
      if (job.status === "assigned" && job.assigned_agent_id) {
        this.#releaseAgent(job.assigned_agent_id);
      }
    });
    // api.py delete_job: a fixed message (unlike delete_agent's, which names the agent).
    return { success: true, job_id: jobId, message: "Job deleted" };
  }

  // --- bids ---

  listBids(jobId: string): BidListing {
    const listed = this.store.listBids(jobId);
    const names = this.store.agentsById(listed.map((bid) => bid.agent_id));
    const bids = listed.map((bid) => {
      const agent = names.get(bid.agent_id);
      return {
        ...bid,
        agent_name: agent?.name ?? "Unknown Agent",
        agent_status: agent?.status ?? "offline",
        estimated_quality: bid.confidence,
        approach_summary: bid.approach,
      };
    });
    return { bids };
  }

  /**
   * Places a bid. A broken rule is a 400 with a message here; the real service answers
   * those with a bare 500.
   */
  placeBid(jobId: string, q: BidQuery): PlaceBidResponse {
    const now = this.#options.now();
    const result = this.store.transaction(() => {
      const job = this.#requireJob(jobId);
      if (!BIDDABLE.has(job.status)) {
        throw badRequest(`Job ${jobId} is not accepting bids (status: ${job.status})`);
      }
      if (job.bid_deadline && now > parseTime(job.bid_deadline)) {
        throw badRequest(`Bid deadline has passed for job ${jobId}`);
      }
      const agent = this.store.getAgent(q.agent_id);
      if (!agent) throw badRequest(`Agent ${q.agent_id} not found`);
      if (agent.status === "suspended") throw badRequest(`Agent ${q.agent_id} is suspended`);
      if (q.price_usd > job.budget_usd) {
        throw badRequest(`Bid price $${q.price_usd} exceeds job budget $${job.budget_usd}`);
      }
      const shortfall = meetsCapabilities(agent, job);
      if (shortfall) throw badRequest(`Agent ${q.agent_id} ${shortfall}`);

      const needsApproval = q.price_usd >= APPROVAL_THRESHOLD_USD;
      const bid: BidDoc = {
        bid_id: newId("bid"),
        job_id: jobId,
        agent_id: q.agent_id,
        price_usd: q.price_usd,
        estimated_time_seconds: q.estimated_time_seconds,
        confidence: q.estimated_quality,
        approach: q.approach_summary,
        status: needsApproval ? "awaiting_approval" : "pending",
        counter_offers: [],
        final_price_usd: null,
        created_at: isoTime(now),
        accepted_at: null,
      };
      this.store.insertBid(bid);
      // As on the real service, a bid leaves the job's status alone (a job with bids is
      // still `posted`; nothing sets `bidding`), except one that needs approval.
      const status = needsApproval ? "awaiting_approval" : job.status;
      this.store.updateJob(jobId, { status, bid_count: job.bid_count + 1 });
      // Bidding is a sign of life: an offline agent that bids is available again.
      if (agent.status === "offline") {
        this.store.updateAgent(agent.agent_id, { status: "available", last_active: isoTime(now) });
      }
      return { bid, first: job.bid_count === 0 };
    });
    if (result.first) this.#options.onFirstBid?.(jobId, now);
    return { bid_id: result.bid.bid_id, status: "submitted" };
  }

  /**
   * Awards the job to one bid, in one transaction: the job is assigned, the winning bid
   * accepted, every other live bid rejected, and the winning agent busy.
   */
  selectBid(jobId: string, bidId: string): SelectBidResponse {
    const answer = this.store.transaction(() => {
      // submit.py raises ValueError for both, which api.py answers 400.
      const job = this.store.getJob(jobId);
      if (!job) throw badRequest(`Job ${jobId} not found`);
      const bid = this.store.getBid(bidId);
      if (!bid) throw badRequest(`Bid ${bidId} not found`);
      if (bid.job_id !== jobId) throw badRequest(`Bid ${bidId} is not for job ${jobId}`);
      if (!SELECTABLE.has(job.status)) {
        throw badRequest(`Job ${jobId} cannot be assigned (status: ${job.status})`);
      }
      if (!LIVE_BIDS.has(bid.status)) {
        throw badRequest(`Bid ${bidId} cannot be selected (status: ${bid.status})`);
      }
      const now = this.#now();
      const finalPrice = bid.final_price_usd ?? bid.price_usd;
      this.store.updateBid(bidId, {
        status: "accepted",
        final_price_usd: finalPrice,
        accepted_at: now,
      });
      for (const other of this.store.listBids(jobId)) {
        if (other.bid_id !== bidId && LIVE_BIDS.has(other.status)) {
          this.store.updateBid(other.bid_id, { status: "rejected" });
        }
      }
      this.store.updateJob(jobId, {
        status: "assigned",
        winning_bid_id: bidId,
        assigned_agent_id: bid.agent_id,
        final_price_usd: finalPrice,
        assigned_at: now,
      });
      this.store.updateAgent(bid.agent_id, { status: "busy" });
      return {
        job_id: jobId,
        winning_bid_id: bidId,
        status: "assigned" as const,
        agentId: bid.agent_id,
      };
    });
    const { agentId, ...body } = answer;
    const job = this.store.getJob(jobId);
    const winner = this.store.getAgent(agentId);
    if (job && winner) this.#options.onBidSelected?.(job, winner);
    return body;
  }

  /** The live bid with the best confidence-to-price ratio (earliest wins a tie), or null. */
  bestBid(jobId: string): BidDoc | null {
    let best: BidDoc | null = null;
    let bestRatio = Number.NEGATIVE_INFINITY;
    for (const bid of this.store.listBids(jobId)) {
      if (!LIVE_BIDS.has(bid.status)) continue;
      const price = bid.final_price_usd ?? bid.price_usd;
      const ratio = price > 0 ? bid.confidence / price : Number.POSITIVE_INFINITY;
      if (ratio > bestRatio) {
        best = bid;
        bestRatio = ratio;
      }
    }
    return best;
  }

  /** Jobs that have bids but no winner yet, each with the time of its first bid. */
  jobsAwaitingAward(): { jobId: string; firstBidAt: Date }[] {
    const out: { jobId: string; firstBidAt: Date }[] = [];
    for (const job of this.store.listJobs()) {
      if (!SELECTABLE.has(job.status) || job.winning_bid_id) continue;
      const first = this.store.listBids(job.job_id)[0];
      if (first) out.push({ jobId: job.job_id, firstBidAt: parseTime(first.created_at) });
    }
    return out;
  }

  /** Whether a job can still be awarded (auto-award checks before it acts). */
  isAwardable(jobId: string): boolean {
    const job = this.store.getJob(jobId);
    return job !== null && SELECTABLE.has(job.status) && !job.winning_bid_id;
  }

  // --- results ---

  submitResult(jobId: string, body: SubmitResultBody): SubmitResultResponse {
    return this.store.transaction(() => {
      const job = this.#requireJob(jobId);
      if (job.status !== "assigned") {
        throw badRequest(`Job is not in assigned state (status: ${job.status})`);
      }
      if (job.assigned_agent_id !== body.executed_by) {
        throw new ApiError(403, "Only the assigned agent can submit results");
      }
      // The service writes JobStatus.FAILED, which its status enum lacks: the handler
      // raises, the answer is a bare 500 and the job stays assigned.
      if (!body.success) {
        throw new InternalError(`submit-result with success false for job ${jobId}`);
      }
      const now = this.#now();
      const status = "completed" as const;
      this.store.updateJob(jobId, {
        status,
        result: {
          success: body.success,
          output: body.output,
          tokens_used: body.tokens_used,
          model: body.model,
          executed_by: body.executed_by,
          submitted_at: now,
        },
        completed_at: now,
      });
      this.#releaseAgent(body.executed_by);
      return { job_id: jobId, status };
    });
  }

  /**
   * A `webhook` agent answered its assignment with the result (submit.py
   * `_call_agent_webhook`): the job is completed with `{success, output, executed_by}`,
   * whatever became of it meanwhile, as on the service. False when the job is gone.
   */
  completeFromWebhook(jobId: string, agentId: string, result: WebhookResult): boolean {
    return this.store.transaction(() => {
      const now = this.#now();
      const done = this.store.updateJob(jobId, {
        status: "completed",
        result: { success: result.success, output: result.output, executed_by: agentId },
        completed_at: now,
      });
      if (done) this.#releaseAgent(agentId);
      return done;
    });
  }

  /**
   * The stale-agent sweep (api.py `cleanup_stale_agents_loop`): every agent `available`
   * or `busy` whose last_active is older than `staleAfterMs` (or missing) goes offline,
   * and each of its `pending` bids is cancelled (`cancelled_reason: "agent_offline"`).
   */
  sweepStaleAgents(staleAfterMs: number): { agentId: string; cancelledBids: number }[] {
    const cutoff = new Date(this.#options.now().getTime() - staleAfterMs);
    return this.store.transaction(() =>
      this.store.staleAgents(cutoff).map((agent) => {
        this.store.updateAgent(agent.agent_id, { status: "offline" });
        return {
          agentId: agent.agent_id,
          cancelledBids: this.store.cancelPendingBids(agent.agent_id),
        };
      }),
    );
  }

  /** A busy agent with no other assigned job is available again. */
  #releaseAgent(agentId: string): void {
    const agent = this.store.getAgent(agentId);
    if (agent?.status !== "busy") return;
    if (this.store.listJobs({ assigned_agent_id: agentId, status: "assigned" }).length > 0) return;
    this.store.updateAgent(agentId, { status: "available" });
  }
}

/** Null if the agent meets every required capability of the job, else what it lacks. */
function meetsCapabilities(agent: AgentDoc, job: JobDoc): string | null {
  for (const cap of job.required_capabilities) {
    // Own properties only: `constructor` or `toString` is not a capability.
    const score = Object.hasOwn(agent.capabilities, cap) ? (agent.capabilities[cap] ?? 0) : 0;
    if (score < job.min_capability_score) {
      return `does not meet minimum ${cap} score (has ${score}, need ${job.min_capability_score})`;
    }
  }
  return null;
}
