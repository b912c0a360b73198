import Fastify, { type FastifyInstance } from "fastify";

/**
 * A loopback stand-in for how the real service pays (payments/release.py): posting a job
 * escrows its budget in a transaction with no payee; `complete` sets the quality score,
 * pays the winning bid's original `price_usd` by the quality rule (≥ 0.7 whole, ≥ 0.49
 * half, else refund) in a NEW transaction only its caller sees, turns the escrow
 * `released` or `refunded`, and grows the agent's `total_earned_usd`. Only the reads the
 * runner's payment reading makes are served.
 */
export interface PaidJob {
  job_id: string;
  status: string;
  assigned_agent_id: string;
  winning_bid_id: string;
  escrow_txn_id: string;
  budget_usd: number;
  final_price_usd: number | null;
  quality_score: number | null;
  completed_at: string | null;
  bids: Array<{
    bid_id: string;
    job_id: string;
    agent_id: string;
    price_usd: number;
    status: string;
    final_price_usd: number | null;
  }>;
}

export interface PayingService {
  url: string;
  /** A job assigned to `agentId` at a bid of `priceUsd` (accepted at `finalPriceUsd`), its result submitted. */
  submitted(jobId: string, agentId: string, priceUsd: number, finalPriceUsd?: number): void;
  /** The poster's sign-off; `bumpTotal: false` leaves total_earned_usd behind for now. */
  complete(
    jobId: string,
    qualityScore: number,
    options?: { bumpTotal?: boolean; at?: Date },
  ): number;
  /** Adds the payments `complete` released without bumping the total. */
  catchUpTotals(): void;
  agent(agentId: string): { agent_id: string; total_earned_usd: number };
  /** Jobs the listing shows: the newest 100 only, as on the service. */
  hide(jobId: string): void;
  requests: string[];
  close(): Promise<void>;
}

export async function startPayingService(): Promise<PayingService> {
  const jobs = new Map<string, PaidJob>();
  const escrows = new Map<
    string,
    {
      txn_id: string;
      txn_type: string;
      job_id: string;
      amount_usd: number;
      status: string;
      payer_id: string;
    }
  >();
  const agents = new Map<string, { agent_id: string; name: string; total_earned_usd: number }>();
  const owed = new Map<string, number>();
  const hidden = new Set<string>();
  const requests: string[] = [];
  let tick = 0;
  const app: FastifyInstance = Fastify();
  app.addHook("onRequest", async (request) => {
    requests.push(`${request.method} ${request.url}`);
  });
  app.get("/api/jobs", async (request) => {
    const { status } = request.query as { status?: string };
    const list = [...jobs.values()].filter(
      (j) => !hidden.has(j.job_id) && (!status || j.status === status),
    );
    return {
      jobs: list.map(({ bids: _b, ...j }) => ({ title: j.job_id, ...j })),
      count: list.length,
    };
  });
  app.get("/api/jobs/:id", async (request, reply) => {
    const job = jobs.get((request.params as { id: string }).id);
    if (!job) return reply.code(404).send({ detail: "Job not found" });
    return { title: job.job_id, ...job };
  });
  app.get("/api/transactions/:id", async (request, reply) => {
    const txn = escrows.get((request.params as { id: string }).id);
    if (!txn) return reply.code(404).send({ detail: "Transaction not found" });
    return txn;
  });
  app.get("/api/agents/:id", async (request, reply) => {
    const agent = agents.get((request.params as { id: string }).id);
    if (!agent) return reply.code(404).send({ detail: "Agent not found" });
    return agent;
  });
  await app.listen({ host: "127.0.0.1", port: 0 });
  const address = app.server.address();
  if (!address || typeof address === "string") throw new Error("no port");
  const agentOf = (agentId: string) => {
    let agent = agents.get(agentId);
    if (!agent) {
      agent = { agent_id: agentId, name: agentId, total_earned_usd: 0 };
      agents.set(agentId, agent);
    }
    return agent;
  };
  return {
    url: `http://127.0.0.1:${address.port}`,
    requests,
    submitted(jobId, agentId, priceUsd, finalPriceUsd) {
      agentOf(agentId);
      const bidId = `bid_${jobId.slice(4)}`;
      const escrowId = `txn_${jobId.slice(4)}`;
      escrows.set(escrowId, {
        txn_id: escrowId,
        txn_type: "escrow",
        job_id: jobId,
        amount_usd: 1,
        status: "escrowed",
        payer_id: "poster",
      });
      jobs.set(jobId, {
        job_id: jobId,
        status: "completed",
        assigned_agent_id: agentId,
        winning_bid_id: bidId,
        escrow_txn_id: escrowId,
        budget_usd: 1,
        final_price_usd: finalPriceUsd ?? priceUsd,
        quality_score: null,
        completed_at: null,
        bids: [
          {
            bid_id: bidId,
            job_id: jobId,
            agent_id: agentId,
            price_usd: priceUsd,
            status: finalPriceUsd === undefined ? "accepted" : "counter_accepted",
            final_price_usd: finalPriceUsd ?? null,
          },
        ],
      });
    },
    complete(jobId, qualityScore, options = {}) {
      const job = jobs.get(jobId)!;
      tick++;
      job.quality_score = qualityScore;
      // The service's format: UTC without a zone; a millisecond apart, in order.
      job.completed_at = (options.at ?? new Date(Date.now() + tick)).toISOString().slice(0, 23);
      const escrow = escrows.get(job.escrow_txn_id)!;
      // The agreed price is the winning bid's original price_usd.
      const agreed = job.bids[0]!.price_usd;
      const amount = qualityScore >= 0.7 ? agreed : qualityScore >= 0.7 * 0.7 ? agreed * 0.5 : 0;
      escrow.status = amount > 0 ? "released" : "refunded";
      if (amount > 0) {
        if (options.bumpTotal === false)
          owed.set(job.assigned_agent_id, (owed.get(job.assigned_agent_id) ?? 0) + amount);
        else agentOf(job.assigned_agent_id).total_earned_usd += amount;
      }
      return amount;
    },
    catchUpTotals() {
      for (const [agentId, amount] of owed) agentOf(agentId).total_earned_usd += amount;
      owed.clear();
    },
    agent: (agentId) => agentOf(agentId),
    hide: (jobId) => hidden.add(jobId),
    close: () => app.close(),
  };
}
