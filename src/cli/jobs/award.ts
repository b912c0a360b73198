import type { Command } from "commander";
import { isMarketplaceError } from "../../marketplace/errors.ts";
import type { Bid } from "../../marketplace/schemas.ts";
import { type CliContext, CliError } from "../context.ts";
import { getJobOrFail, withClient } from "./client.ts";

/** Best value for money: highest confidence per dollar. */
export function bestBid(bids: Bid[]): Bid | undefined {
  const open = bids.filter((b) =>
    ["pending", "counter_accepted", "awaiting_approval"].includes(b.status),
  );
  const score = (b: Bid) =>
    (b.estimated_quality ?? b.confidence ?? 0) / Math.max(b.price_usd, 0.0001);
  return open.sort((a, b) => score(b) - score(a))[0];
}

/** `jobs award`: the bid given, or the best value for money. */
export function registerAward(jobs: Command, ctx: CliContext): void {
  jobs
    .command("award")
    .description("pick the winning bid of a job")
    .argument("<job_id>")
    .option("--bid <bid_id>", "the bid to accept")
    .option("--best", "accept the bid with the best confidence per dollar")
    .action(async (jobId: string, opts: { bid?: string; best?: boolean }, command: Command) => {
      // A usage error, reported the way commander reports its own (with the help after it).
      if (!opts.bid === !opts.best) command.error("error: give exactly one of --bid BID or --best");
      await withClient(ctx, async (client) => {
        const job = await getJobOrFail(client, jobId);
        let bidId = opts.bid ?? "";
        if (opts.best) {
          const best = bestBid(job.bids.length ? job.bids : await client.listBids(jobId));
          if (!best)
            throw new CliError(
              `job ${jobId} (${job.status}) has no open bid to award${job.bids.length ? "" : " yet"}`,
            );
          bidId = best.bid_id;
        }
        try {
          const result = await client.selectBid(jobId, bidId);
          ctx.out(`awarded ${result.job_id} to bid ${result.winning_bid_id} (${result.status})`);
        } catch (error) {
          if (isMarketplaceError(error) && error.isClientError)
            throw new CliError(
              `cannot award ${jobId} to ${bidId}: ${error.detail ?? error.message} (${error.status})`,
            );
          throw error;
        }
      });
    });
}
