import { readFile } from "node:fs/promises";
import { basename } from "node:path";
import type { Command } from "commander";
import { type CliContext, CliError } from "../context.ts";
import { posterWallet, withClient } from "./client.ts";

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
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

const REQUIRED_POST_OPTIONS = [
  { key: "title", flag: "--title <title>" },
  { key: "description", flag: "--description <text>" },
  { key: "budget", flag: "--budget <usd>" },
] as const;

/** `jobs post`: a job, and its files when given. */
export function registerPost(jobs: Command, ctx: CliContext): void {
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
}
