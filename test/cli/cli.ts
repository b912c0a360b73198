import { spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { appendPrinted } from "../support/printed-log.ts";
import { PROCESS_WAIT_MS } from "../support/wait.ts";

export const MAIN = join(import.meta.dirname, "../../src/cli/main.ts");

export interface CliRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Where no runner answers: the CLI's default RUNNER_URL in tests, so a runner another
 * developer left on :8080 cannot answer `jobs show`, `agents list` or `doctor`. */
export const NO_RUNNER_URL = "http://127.0.0.1:1";

/**
 * Runs `bazaar-runner ARGS` as a child process, as a user would. The environment is
 * exactly `env` (plus PATH, and RUNNER_URL=NO_RUNNER_URL unless given) so the developer's
 * own variables cannot leak in, and the working directory is `cwd` so no `.env` of the
 * repository is read. Asynchronous on purpose: the marketplace a command talks to may
 * live in this very process.
 */
export function runCli(
  args: string[],
  options: { env?: Record<string, string>; cwd: string; timeoutMs?: number },
): Promise<CliRun> {
  return runProcess(process.execPath, [MAIN, ...args], {
    ...options,
    env: { PATH: process.env.PATH ?? "", RUNNER_URL: NO_RUNNER_URL, ...options.env },
  });
}

/** Runs `file ARGS` with exactly `env`, collecting its output; killed after `timeoutMs`. */
export function runProcess(
  file: string,
  args: string[],
  options: { env: Record<string, string>; cwd: string; timeoutMs?: number },
): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, {
      cwd: options.cwd,
      env: options.env,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => {
      stdout += chunk.toString("utf8");
    });
    child.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk.toString("utf8");
    });
    // A hung command must fail the test, not the whole run.
    const timer = setTimeout(() => child.kill("SIGKILL"), options.timeoutMs ?? PROCESS_WAIT_MS);
    child.on("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      // What the command printed goes under the suite-wide secret guard too.
      appendPrinted(stdout);
      appendPrinted(stderr);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

/** A temporary directory, removed by `cleanup()`. */
export async function tempDir(prefix = "bazaar-cli-test-"): Promise<{
  path: string;
  cleanup(): Promise<void>;
}> {
  const path = await mkdtemp(join(tmpdir(), prefix));
  return { path, cleanup: () => rm(path, { recursive: true, force: true }) };
}

/** The lines of a stream's text, without the empty last one. */
export function lines(text: string): string[] {
  return text.split("\n").filter((line) => line.trim() !== "");
}

/** The job id from `jobs post` output ("posted job_1a2b3c4d (posted)"). */
export function postedJobId(stdout: string): string {
  const match = /^posted (\S+) \(/m.exec(stdout);
  if (!match?.[1]) throw new Error(`no job id in: ${stdout}`);
  return match[1];
}

/** A loopback port that nothing listens on (bound once, then released). */
export async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (!address || typeof address === "string") throw new Error("no port");
  return address.port;
}
