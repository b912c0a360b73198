import type { Command } from "commander";
import { Sessions } from "../../marketplace/auth.ts";
import { NegotiationApi } from "../../marketplace/negotiation-api.ts";
import { type CliContext, CliError } from "../context.ts";
import { refused, withClient } from "./client.ts";

/** `jobs counter`: the poster's counter-offer on a bid, signed in with the poster key. */
export function registerCounter(jobs: Command, ctx: CliContext): void {
  jobs
    .command("counter")
    .description("counter-offer a bid as the job's poster (signs in with the poster key)")
    .argument("<bid_id>")
    .requiredOption("--price <usd>", "the price offered", Number.parseFloat)
    .option("--message <text>", "a line for the agent", "Would you do it for this price?")
    .action(async (bidId: string, opts: { price: number; message: string }) => {
      if (!Number.isFinite(opts.price) || opts.price < 0)
        throw new CliError("--price must be a number of USD, 0 or more");
      // Loaded here, not at start: viem is for the commands that sign.
      const { posterAccount } = await import("../../wallet/poster-key.ts");
      const poster = posterAccount(ctx.config());
      await withClient(ctx, async (client) => {
        const sessions = new Sessions({ transport: client.transport });
        const api = new NegotiationApi(client.transport);
        try {
          const answer = await sessions.withSession(poster, (token) =>
            api.counter(
              bidId,
              { new_price: opts.price, message: opts.message, by: "poster" },
              token,
            ),
          );
          ctx.out(
            `countered ${answer.bid_id} at $${opts.price}: ${answer.status}${answer.requires_approval ? " (awaits the poster's approval: $10 or more)" : ""}, round ${answer.counter_offers.length} of 5`,
          );
        } catch (error) {
          refused(`counter ${bidId}`, error);
        }
      });
    });
}
