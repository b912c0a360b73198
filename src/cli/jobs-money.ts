import type { Command } from "commander";
import { Sessions } from "../marketplace/auth.ts";
import type { MarketplaceClient } from "../marketplace/client.ts";
import { isMarketplaceError } from "../marketplace/errors.ts";
import { transactionAmount, transactionPayee } from "../marketplace/money-schemas.ts";
import { NegotiationApi } from "../marketplace/negotiation-api.ts";
import { type CliContext, CliError } from "./context.ts";

type WithClient = <T>(ctx: CliContext, fn: (client: MarketplaceClient) => Promise<T>) => Promise<T>;

/** A 4xx as one line that says what the marketplace objected to. */
function refused(what: string, error: unknown): never {
  if (isMarketplaceError(error) && error.isClientError)
    throw new CliError(`cannot ${what}: ${error.detail ?? error.message} (${error.status})`);
  throw error;
}

/** `jobs counter` and `jobs complete`: the poster's side of negotiation and payment. */
export function registerMoneyCommands(
  jobs: Command,
  ctx: CliContext,
  withClient: WithClient,
): void {
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
      const { posterAccount } = await import("../wallet/poster-key.ts");
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

  jobs
    .command("complete")
    .description("sign off a job's result with a quality score; the marketplace pays the agent")
    .argument("<job_id>")
    .requiredOption("--quality <0..1>", "quality score of the result", Number.parseFloat)
    .action(async (jobId: string, opts: { quality: number }) => {
      if (!(opts.quality >= 0 && opts.quality <= 1))
        throw new CliError("--quality must be a number from 0 to 1");
      await withClient(ctx, async (client) => {
        const api = new NegotiationApi(client.transport);
        let done: Awaited<ReturnType<NegotiationApi["complete"]>>;
        try {
          done = await api.complete(jobId, opts.quality);
        } catch (error) {
          refused(`complete ${jobId}`, error);
        }
        ctx.out(
          `completed ${done.job_id}: quality ${done.quality_score ?? opts.quality}, ${done.payment_status}, paid $${done.amount_paid ?? 0} of $${done.agreed_price ?? "-"}`,
        );
        if (done.txn_id) {
          const txn = await api.transaction(done.txn_id).catch(() => undefined);
          if (txn)
            ctx.out(
              `transaction ${txn.txn_id}: $${transactionAmount(txn)} to ${transactionPayee(txn) ?? "-"} (${txn.status})`,
            );
        }
      });
    });
}
