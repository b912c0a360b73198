import { readFile } from "node:fs/promises";
import { basename } from "node:path";
import { type Command, Option } from "commander";
import { MarketplaceClient } from "../marketplace/client.ts";
import { isMarketplaceError, MarketplaceError } from "../marketplace/errors.ts";
import { type Bid, JOB_STATUSES, type JobWithBids } from "../marketplace/schemas.ts";
import { createSharedPool } from "../pool.ts";
import { type CliContext, CliError } from "./context.ts";
import { registerMoneyCommands } from "./jobs-money.ts";
import { askRunner, type Decision, DecisionsSchema, type RunnerAnswer } from "./runner-client.ts";

/** The address of the CLI's poster key; viem is loaded only by the commands that sign. */
async function posterWallet(ctx: CliContext): Promise<string> {
  const { posterAccount } = await import("../wallet/poster-key.ts");
  try {
    return posterAccount(ctx.config()).address;
  } catch (error) {
    throw new CliError(`${(error as Error).message}; or give --poster-wallet`);
  }
}

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
  // The API calls the bidder's confidence `estimated_quality`; log and dashboard say confidence.
  const confidence = bid.estimated_quality ?? bid.confidence;
  return `  ${bid.bid_id}  ${bid.status.padEnd(17)} ${money(bid.price_usd).padStart(8)}  confidence ${confidence ?? "-"}  ${agentLabel(bid.agent_id, bid.agent_name ?? names.get(bid.agent_id))}`;
}

function decisionLine(decision: Decision, width: number): string {
  const name = decision.agent.padEnd(width);
  if (decision.outcome === "bid") {
    const confidence =
      decision.confidence === undefined ? "" : `  confidence ${decision.confidence}`;
    return `  ${name}  bid   ${money(decision.priceUsd)}${confidence}`;
  }
  return `  ${name}  skip  ${decision.reason ?? "-"}: ${decision.detail}`;
}

/** Why each agent of a runner bid or not, as `jobs show` prints it below the bids. */
export function formatDecisions(
  answer: RunnerAnswer<{ decisions: Decision[] }>,
  runnerUrl: string,
): string[] {
  if (!answer.ok) return [`decisions: ${answer.why}`];
  const { decisions } = answer.value;
  if (decisions.length === 0)
    return [
      `decisions: none yet from the runner at ${runnerUrl} (its agents decide at its next poll)`,
    ];
  const width = Math.max(...decisions.map((d) => d.agent.length));
  return [`decisions (runner at ${runnerUrl}):`, ...decisions.map((d) => decisionLine(d, width))];
}

/** A job, its bids, the runner's decisions (when given) and its result, readable in a terminal. */
export function formatJob(
  job: JobWithBids,
  names: ReadonlyMap<string, string> = new Map(),
  decisions: string[] = [],
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
    ...(decisions.length ? ["", ...decisions] : []),
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

const REQUIRED_POST_OPTIONS = [
  { key: "title", flag: "--title <title>" },
  { key: "description", flag: "--description <text>" },
  { key: "budget", flag: "--budget <usd>" },
] as const;

export function registerJobsCommands(program: Command, ctx: CliContext): void {
  const jobs = program
    .command("jobs")
    .description("post, list, show and award jobs on BAZAAR_API_URL (the poster's side)");

  jobs
    .command("post")
    .description("post a job")
    // Checked in the action, so that every missing one is named at once.
    .option("--title <title>", "job title (required)")
    .option("--description <text>", "what the job is (required)")
    .option("--budget <usd>", "budget in USD (required)", Number.parseFloat)
    .option("--capability <name>", "a required capability (repeatable)", collect, [])
    // Not `<0x...>`: commander reads a name ending in "..." as a list of values.
    .option(
      "--poster-wallet <address>",
      "poster wallet, 0x + 40 hex (default: the address of the CLI's poster key)",
    )
    .option("--poster-id <id>", "poster id", "cli_poster")
    .option("--file <path>", "attach a file (repeatable)", collect, [])
    .action(
      async (
        opts: {
          title?: string;
          description?: string;
          budget?: number;
          capability: string[];
          posterWallet?: string;
          posterId: string;
          file: string[];
        },
        command: Command,
      ) => {
        const missing = REQUIRED_POST_OPTIONS.filter((o) => opts[o.key] === undefined);
        if (missing.length)
          command.error(
            `error: missing required option${missing.length > 1 ? "s" : ""}: ${missing.map((o) => o.flag).join(", ")}`,
          );
        const { title = "", description = "", budget = Number.NaN } = opts;
        if (!Number.isFinite(budget) || budget <= 0)
          throw new CliError("--budget must be a positive number of USD");
        const wallet = opts.posterWallet ?? (await posterWallet(ctx));
        // Read first: a missing file stops the command before a job is posted.
        const files = await readAttachments(opts.file);
        const posted = await withClient(ctx, async (client) => {
          const job = await client.postJob({
            title,
            description,
            budget_usd: budget,
            required_capabilities: opts.capability,
            poster_id: opts.posterId,
            poster_wallet: wallet,
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

  registerMoneyCommands(jobs, ctx, withClient);
}
