import { readFile } from "node:fs/promises";
import { basename } from "node:path";
import type { Command } from "commander";
import { MarketplaceClient } from "../marketplace/client.ts";
import { isMarketplaceError, MarketplaceError } from "../marketplace/errors.ts";
import type { Bid, JobWithBids } from "../marketplace/schemas.ts";
import { createSharedPool } from "../pool.ts";
import { type CliContext, CliError } from "./context.ts";

/** The poster wallet used when none is given: any valid address will do locally. */
export const DEFAULT_POSTER_WALLET = "0x00000000000000000000000000000000000b0a57";

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

async function withClient<T>(
  ctx: CliContext,
  fn: (client: MarketplaceClient) => Promise<T>,
): Promise<T> {
  const pool = createSharedPool({ connections: 2 });
  const client = new MarketplaceClient({
    baseUrl: ctx.config().bazaarApiUrl,
    dispatcher: pool,
    maxAttempts: 2,
    timeoutMs: 10_000,
  });
  try {
    return await fn(client);
  } catch (error) {
    // One line that says what to do, not only what failed.
    if (error instanceof MarketplaceError && (error.kind === "network" || error.kind === "timeout"))
      throw new CliError(
        `${error.message} — is the marketplace up? (BAZAAR_API_URL, default http://localhost:8000; \`bazaar-runner start\` serves one)`,
      );
    throw error;
  } finally {
    await pool.close();
  }
}

async function readAttachments(
  paths: string[],
): Promise<{ filename: string; content: Uint8Array<ArrayBuffer> }[]> {
  return Promise.all(
    paths.map(async (path) => {
      try {
        return { filename: basename(path), content: new Uint8Array(await readFile(path)) };
      } catch (error) {
        throw new CliError(`--file ${path}: ${(error as Error).message}`);
      }
    }),
  );
}

/** Fetches a job; an unknown id is a plain "no such job" line rather than a route and status. */
async function getJobOrFail(client: MarketplaceClient, jobId: string): Promise<JobWithBids> {
  try {
    return await client.getJob(jobId);
  } catch (error) {
    if (isMarketplaceError(error, 404))
      throw new CliError(`no job ${jobId} on ${client.baseUrl} (404)`);
    throw error;
  }
}

/** Agent names by id, for readable bid lines; best effort (an empty map when the listing fails). */
async function agentNames(client: MarketplaceClient): Promise<Map<string, string>> {
  try {
    return new Map((await client.listAgents()).map((a) => [a.agent_id, a.name]));
  } catch {
    return new Map();
  }
}

function money(value: number | null | undefined): string {
  return typeof value === "number" ? `$${value.toFixed(3)}` : "-";
}

/** An agent as "Name (agent_id)" when its name is known. */
function agentLabel(agentId: string, name: string | null | undefined): string {
  return name ? `${name} (${agentId})` : agentId;
}

function bidLine(bid: Bid, names: ReadonlyMap<string, string>): string {
  const quality = bid.estimated_quality ?? bid.confidence;
  return `  ${bid.bid_id}  ${bid.status.padEnd(17)} ${money(bid.price_usd).padStart(8)}  quality ${quality ?? "-"}  ${agentLabel(bid.agent_id, bid.agent_name ?? names.get(bid.agent_id))}`;
}

/** A job, its bids and its result, readable in a terminal. */
export function formatJob(
  job: JobWithBids,
  names: ReadonlyMap<string, string> = new Map(),
): string {
  const executor = job.result?.executed_by;
  const lines = [
    `${job.job_id}  ${job.status}  ${money(job.budget_usd)}`,
    `title:        ${job.title}`,
    `capabilities: ${job.required_capabilities.join(", ") || "-"} (min score ${job.min_capability_score})`,
    `posted:       ${job.created_at ?? "-"}${job.assigned_agent_id ? `   assigned to ${job.assigned_agent_id} at ${job.assigned_at}` : ""}`,
    "",
    job.description,
    "",
    `bids (${job.bids.length}):`,
    ...(job.bids.length ? job.bids.map((bid) => bidLine(bid, names)) : ["  none yet"]),
  ];
  if (job.result) {
    lines.push(
      "",
      `result: ${job.result.success ? "success" : "FAILED"} by ${executor ? agentLabel(executor, names.get(executor)) : "-"} (${job.result.model || "no model"}, ${job.result.tokens_used} tokens)`,
      "",
      job.result.output,
    );
  }
  return lines.join("\n");
}

/** Best value for money: highest confidence per dollar. */
export function bestBid(bids: Bid[]): Bid | undefined {
  const open = bids.filter((b) =>
    ["pending", "counter_accepted", "awaiting_approval"].includes(b.status),
  );
  const score = (b: Bid) =>
    (b.estimated_quality ?? b.confidence ?? 0) / Math.max(b.price_usd, 0.0001);
  return open.sort((a, b) => score(b) - score(a))[0];
}

export function registerJobsCommands(program: Command, ctx: CliContext): void {
  const jobs = program
    .command("jobs")
    .description("post, list, show and award jobs on BAZAAR_API_URL (the poster's side)");

  jobs
    .command("post")
    .description("post a job")
    .requiredOption("--title <title>", "job title")
    .requiredOption("--description <text>", "what the job is")
    .requiredOption("--budget <usd>", "budget in USD", Number.parseFloat)
    .option("--capability <name>", "a required capability (repeatable)", collect, [])
    .option("--poster-wallet <0x...>", "poster wallet", DEFAULT_POSTER_WALLET)
    .option("--poster-id <id>", "poster id", "cli_poster")
    .option("--file <path>", "attach a file (repeatable)", collect, [])
    .action(
      async (opts: {
        title: string;
        description: string;
        budget: number;
        capability: string[];
        posterWallet: string;
        posterId: string;
        file: string[];
      }) => {
        if (!Number.isFinite(opts.budget) || opts.budget <= 0)
          throw new CliError("--budget must be a positive number of USD");
        // Read first: a missing file stops the command before a job is posted.
        const files = await readAttachments(opts.file);
        const posted = await withClient(ctx, async (client) => {
          const job = await client.postJob({
            title: opts.title,
            description: opts.description,
            budget_usd: opts.budget,
            required_capabilities: opts.capability,
            poster_id: opts.posterId,
            poster_wallet: opts.posterWallet,
          });
          for (const file of files) {
            const uploaded = await client.uploadJobFile(job.job_id, {
              ...file,
              uploadedBy: opts.posterId,
            });
            ctx.out(`attached ${uploaded.filename} as ${uploaded.file_id}`);
          }
          return job;
        });
        ctx.out(`posted ${posted.job_id} (${posted.status})`);
      },
    );

  jobs
    .command("list")
    .description("list jobs")
    .option("--status <status>", "only jobs with this status")
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

  jobs
    .command("show")
    .description("show a job with its bids and result")
    .argument("<job_id>")
    .action(async (jobId: string) => {
      const text = await withClient(ctx, async (client) =>
        formatJob(await getJobOrFail(client, jobId), await agentNames(client)),
      );
      ctx.out(text);
    });

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
