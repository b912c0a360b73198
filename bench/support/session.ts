/** One runner child against a fresh counting marketplace, set up and torn down for a bench. */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { MarketplaceApp } from "../../src/marketplace-server/index.ts";
import { type Counts, startCountingMarketplace } from "./market.ts";
import { checkoutPrevious, type PreviousVersion } from "./previous.ts";
import { buildCurrent, entryOf, ROOT, RunnerChild, startFlags } from "./runner-child.ts";

export interface Version {
  name: string;
  root: string;
  /** True for the current version, run compiled (dist/) as `npm start` does. */
  compiled: boolean;
}

export interface Session {
  market: MarketplaceApp;
  counts: Counts;
  /** The marketplace's own URL (the runner may be given another: a proxy in front). */
  url: string;
  dir: string;
  runner: RunnerChild;
}

export interface SessionOptions {
  /** Environment of the runner, on top of BAZAAR_API_URL, RUNNER_STATE_DIR, HOST and PORT=0. */
  env?: Record<string, string>;
  /** More environment once the temp dir exists (an AGENTS_FILE, a MongoDB database). */
  setup?: (dir: string) => Promise<Record<string, string>> | Record<string, string>;
  /** Something between runner and marketplace (the outage bench's proxy). */
  front?: (url: string) => Promise<{ url: string; close(): Promise<unknown> }>;
  /** How the runner is started (bench/support/doors.ts); by default `node FLAGS ENTRY start`. */
  door?: (env: Record<string, string>, dir: string) => RunnerChild;
}

/**
 * Runs `body` with a runner of `version` against a fresh marketplace in a temp dir, and
 * tears everything down after. A failure is printed with the runner's output and gives
 * undefined, so one broken run does not lose the others' figures.
 */
export async function withRunner<T>(
  version: Version,
  options: SessionOptions,
  body: (session: Session) => Promise<T>,
): Promise<T | undefined> {
  const { market, counts, url } = await startCountingMarketplace();
  const dir = mkdtempSync(join(tmpdir(), "bench-"));
  const front = options.front ? await options.front(url) : undefined;
  let runner: RunnerChild | undefined;
  try {
    const env = {
      BAZAAR_API_URL: front?.url ?? url,
      RUNNER_STATE_DIR: join(dir, "state"),
      HOST: "127.0.0.1",
      PORT: "0",
      ...options.env,
      ...(await options.setup?.(dir)),
    };
    const flags = version.compiled ? startFlags() : [];
    runner =
      options.door?.(env, dir) ??
      RunnerChild.node(entryOf(version.root, version.compiled), env, dir, flags);
    return await body({ market, counts, url, dir, runner });
  } catch (error) {
    process.stderr.write(`${version.name}: ${String(error)}\n${runner?.output ?? ""}\n`);
    return undefined;
  } finally {
    await runner?.stop();
    await front?.close();
    await market.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Extracts the previous version, builds the current one, runs the bench, cleans up. */
export async function compareVersions(
  bench: (versions: { previous: Version; current: Version }) => Promise<void>,
): Promise<void> {
  const previous: PreviousVersion = checkoutPrevious();
  try {
    buildCurrent();
    await bench({
      previous: { name: `previous (${previous.ref})`, root: previous.dir, compiled: false },
      current: { name: "current", root: ROOT, compiled: true },
    });
  } finally {
    previous.remove();
  }
}
