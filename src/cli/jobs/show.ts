import type { Command } from "commander";
import type { CliContext } from "../context.ts";
import { askRunner, DecisionsSchema } from "../runner-client.ts";
import { getJobOrFail, withClient } from "./client.ts";
import { agentNames, formatDecisions, formatJob } from "./format.ts";

/** `jobs show`: a job with its bids, the runner's decisions and its result. */
export function registerShow(jobs: Command, ctx: CliContext): void {
  jobs
    .command("show")
    .description("show a job with its bids and result")
    .argument("<job_id>")
    .action(async (jobId: string) => {
      const config = ctx.config();
      const text = await withClient(ctx, async (client) => {
        const job = await getJobOrFail(client, jobId);
        const [names, decisions] = await Promise.all([
          agentNames(client),
          askRunner(config, `/api/decisions?job_id=${encodeURIComponent(jobId)}`, DecisionsSchema),
        ]);
        return formatJob(job, names, formatDecisions(decisions, config.runnerUrl));
      });
      ctx.out(text);
    });
}
