import { MarketplaceClient } from "../../marketplace/client.ts";
import { isMarketplaceError, MarketplaceError } from "../../marketplace/errors.ts";
import type { JobWithBids } from "../../marketplace/schemas.ts";
import { createSharedPool } from "../../pool.ts";
import { type CliContext, CliError } from "../context.ts";

/** The address of the CLI's poster key; viem is loaded only by the commands that sign. */
export async function posterWallet(ctx: CliContext): Promise<string> {
  const { posterAccount } = await import("../../wallet/poster-key.ts");
  try {
    return posterAccount(ctx.config()).address;
  } catch (error) {
    throw new CliError(`${(error as Error).message}; or give --poster-wallet`);
  }
}

/** A client for one command, closed after it; a network failure says what to check. */
export async function withClient<T>(
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

/** Fetches a job; an unknown id is a plain "no such job" line rather than a route and status. */
export async function getJobOrFail(client: MarketplaceClient, jobId: string): Promise<JobWithBids> {
  try {
    return await client.getJob(jobId);
  } catch (error) {
    if (isMarketplaceError(error, "BR_ERR_MARKETPLACE_NOT_FOUND"))
      throw new CliError(`no job ${jobId} on ${client.baseUrl} (404)`);
    throw error;
  }
}

/** A 4xx as one line that says what the marketplace objected to. */
export function refused(what: string, error: unknown): never {
  if (isMarketplaceError(error) && error.isClientError)
    throw new CliError(`cannot ${what}: ${error.detail ?? error.message} (${error.status})`);
  throw error;
}
