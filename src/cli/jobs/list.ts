import { type Command, Option } from "commander";
import { JOB_STATUSES } from "../../marketplace/schemas.ts";
import type { CliContext } from "../context.ts";
import { withClient } from "./client.ts";
import { money } from "./format.ts";

/** `jobs list`: one line a job, and a line for each the client could not read. */
export function registerList(jobs: Command, ctx: CliContext): void {
  jobs
    .command("list")
    .description("list jobs")
    .addOption(new Option("--status <status>", "only jobs with this status").choices(JOB_STATUSES))
    .action(async (opts: { status?: string }) => {
      const listing = await withClient(ctx, (client) =>
        client.listJobs(opts.status ? { status: opts.status } : {}),
      );
      if (listing.jobs.length === 0) ctx.out("no jobs");
      for (const job of listing.jobs) {
        ctx.out(
          `${job.job_id}  ${job.status.padEnd(17)} ${money(job.budget_usd).padStart(8)}  bids ${String(job.bid_count).padStart(2)}  ${job.title}`,
        );
      }
      for (const rejected of listing.rejected)
        ctx.out(`(malformed job ${rejected.jobId ?? "?"}: ${rejected.problem})`);
    });
}
