import type { Command } from "commander";
import { transactionAmount, transactionPayee } from "../../marketplace/money-schemas.ts";
import { NegotiationApi } from "../../marketplace/negotiation-api.ts";
import { type CliContext, CliError } from "../context.ts";
import { refused, withClient } from "./client.ts";

/** `jobs complete`: the poster signs off a result with a quality score; the service pays. */
export function registerComplete(jobs: Command, ctx: CliContext): void {
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
