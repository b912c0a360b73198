import type { FastifyInstance } from "fastify";
import { MatchesQuery } from "../contract/requests.ts";
import { ROUTES } from "../contract/routes.ts";
import { badRequest, notFound } from "./errors.ts";
import { matchAgents } from "./job-matching.ts";
import { MoneyStore } from "./money-store.ts";
import { Payments } from "./payments.ts";
import type { MarketplaceStore } from "./store.ts";
import { parseQuery } from "./validation.ts";

/**
 * The service's job routes beyond the lifecycle (api.py): agent matches, refunds,
 * deleting every job, deleting one attached file, and the demo status. None asks for
 * sign-in, as on the service.
 */

interface JobParams {
  Params: { job_id: string };
}
interface FileParams {
  Params: { job_id: string; file_id: string };
}

export function registerJobAdminRoutes(
  app: FastifyInstance,
  store: MarketplaceStore,
  now: () => Date,
): void {
  const payments = new Payments(store, new MoneyStore(store), now);
  app.get<JobParams>(ROUTES.jobMatches.path, async (req) => {
    const { limit } = parseQuery(MatchesQuery, req.query);
    const job = store.getJob(req.params.job_id);
    if (!job) throw notFound("Job");
    const matches = matchAgents(job, store.listAgents(), limit);
    return { job_id: job.job_id, matches, count: matches.length };
  });

  // The service deletes the job documents only: agents stay as they are (a busy one stays
  // busy). Here the jobs' bids and files go with them (foreign keys).
  app.delete(ROUTES.deleteAllJobs.path, async () => {
    const count = store.deleteAllJobs();
    return { success: true, deleted_count: count, message: `Deleted ${count} jobs` };
  });

  // Refunds the escrow to the poster and cancels the job; the assigned agent and the
  // bids are left as they are, as on the service.
  app.post<JobParams>(ROUTES.refundJob.path, async (req) =>
    store.transaction(() => {
      const job = store.getJob(req.params.job_id);
      if (!job) throw notFound("Job");
      if (!job.escrow_txn_id) throw badRequest("No escrow found for job");
      const refund = payments.refund(job.escrow_txn_id);
      if (!refund) throw badRequest("Refund failed");
      store.updateJob(job.job_id, { status: "cancelled" });
      return {
        job_id: job.job_id,
        status: "refunded",
        refund_txn_id: refund.txn_id,
        amount: refund.amount_usd,
      };
    }),
  );

  // A file is found through the job's attachments, as the service finds it.
  app.delete<FileParams>(ROUTES.deleteJobFile.path, async (req) =>
    store.transaction(() => {
      const { job_id: jobId, file_id: fileId } = req.params;
      const job = store.getJob(jobId);
      if (!job) throw notFound("Job");
      const fileIdOf = (a: unknown) => (a as { file_id?: unknown } | null)?.file_id;
      if (!job.attachments.some((a) => fileIdOf(a) === fileId)) throw notFound("File");
      store.db.prepare("DELETE FROM job_files WHERE job_id = ? AND file_id = ?").run(jobId, fileId);
      store.updateJob(jobId, {
        attachments: job.attachments.filter((a) => fileIdOf(a) !== fileId),
      });
      return { status: "deleted", file_id: fileId };
    }),
  );

  // Counts as the service's listings hold them (at most 100 each). No money moves here
  // (x402 mode "false") and there is no generative UI (no Thesys key).
  app.get(ROUTES.demoStatus.path, async () => ({
    status: "operational",
    agents_count: store.topAgents().length,
    jobs_count: store.newestJobs().length,
    x402_mode: "false",
    thesys_configured: false,
  }));
}
