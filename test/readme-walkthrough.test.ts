import { readFile } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { NO_LLM_OUTPUT } from "../src/agents/base-executor.ts";
import { TRY_POST_COMMAND } from "../src/cli/start.ts";
import { type CliRun, closedPort, postedJobId, runProcess, tempDir } from "./cli/cli.ts";
import { RunnerProcess } from "./support/runner-process.ts";
import { waitFor } from "./support/wait.ts";

/**
 * The README's "Try the whole loop locally", run as printed: its first block in one
 * terminal (`npm start`), every command of its second block in another, with the job id
 * the post printed in place of `job_xxxxxxxx`. Only the environment differs: free ports
 * (PORT, MARKETPLACE_PORT), a temporary state directory and a brisk poll, as the README
 * suggests. It fails when a command of the README stops working.
 */
const ROOT = resolve(import.meta.dirname, "..");
const SECTION = "## Try the whole loop locally";
const PLACEHOLDER = "job_xxxxxxxx";

/** The commands of each ```bash block of the section (continuation lines joined). */
function walkthroughBlocks(readme: string): string[][] {
  const start = readme.indexOf(SECTION);
  if (start === -1) throw new Error(`README.md has no "${SECTION}" section`);
  const next = readme.indexOf("\n## ", start + SECTION.length);
  const section = readme.slice(start, next === -1 ? undefined : next);
  return [...section.matchAll(/```bash\n([\s\S]*?)```/g)].map((block) =>
    (block[1] ?? "")
      .replace(/\s*\\\n\s*/g, " ")
      .split("\n")
      .map((line) => line.trim())
      .filter((line) => line && !line.startsWith("#")),
  );
}

/** One command line in a shell, in the repository, as typed in a second terminal. */
function shell(command: string, env: Record<string, string>): Promise<CliRun> {
  return runProcess("/bin/sh", ["-c", command], {
    cwd: ROOT,
    env: { ...env, PATH: `${dirname(process.execPath)}:${process.env.PATH ?? ""}` },
    timeoutMs: 60_000,
  });
}

describe("the README walkthrough, as printed", { timeout: 300_000 }, () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let runner: RunnerProcess | undefined;

  beforeEach(async () => {
    dir = await tempDir("bazaar-readme-");
  });
  afterEach(async () => {
    runner?.signal("SIGKILL");
    runner = undefined;
    await dir.cleanup();
  });

  it("runs every command of 'Try the whole loop locally'", async () => {
    const blocks = walkthroughBlocks(await readFile(join(ROOT, "README.md"), "utf8"));
    expect(blocks).toHaveLength(2);
    const [first = [], second = []] = blocks;
    expect(first).toEqual(["npm start"]);
    // The start log's "try" line is the README's own post command.
    expect(second[0]).toBe(TRY_POST_COMMAND);

    const port = await closedPort();
    const marketplacePort = await closedPort();
    const env: Record<string, string> = {
      HOME: process.env.HOME ?? dir.path,
      PORT: String(port),
      MARKETPLACE_PORT: String(marketplacePort),
      RUNNER_STATE_DIR: join(dir.path, "state"),
      AGENT_POLL_INTERVAL: "1",
      LOG_LEVEL: "info",
      npm_config_update_notifier: "false",
      npm_config_fund: "false",
    };

    // Terminal 1.
    runner = new RunnerProcess(env, [], { cwd: ROOT, shell: first[0] ?? "" });
    const started = runner;
    await started.waitForLog(
      "the runner's summary",
      (l) => String(l.msg).startsWith("try, in another terminal:"),
      120_000,
    );
    await waitFor(
      "three agents running",
      async () => {
        const status = (await (await fetch(`http://127.0.0.1:${port}/api/status`)).json()) as {
          agents: Array<{ state: string }>;
        };
        return status.agents.filter((a) => a.state === "running").length === 3;
      },
      { timeoutMs: 60_000, intervalMs: 250 },
    );

    // Terminal 2, command by command.
    let jobId: string | undefined;
    for (const line of second) {
      const command = jobId ? line.replaceAll(PLACEHOLDER, jobId) : line;
      if (!jobId)
        expect(command, "a command before the post needs a job id").not.toContain(PLACEHOLDER);
      const args = command.split(/\s+/);
      const sub = `${args[4] ?? ""} ${args[5] ?? ""}`;
      if (sub === "jobs show") {
        // "bids arrive within one poll": show until the schema job has SchemaArchitect's bid.
        const shown = await waitFor(
          "a bid in `jobs show`",
          async () => {
            const run = await shell(command, env);
            expect(run.code, run.stderr).toBe(0);
            const bid = /^\s+bid_\S+\s+pending\s+.*SchemaArchitect/m.test(run.stdout);
            const decided = (run.stdout.match(/^ {2}\S+\s+(bid|skip) {2}/gm) ?? []).length === 3;
            return bid && decided ? run : undefined;
          },
          { timeoutMs: 90_000, intervalMs: 500 },
        );
        expect(shown.stdout).toMatch(/confidence 0\.\d+/);
        // The runner at its default RUNNER_URL (http://localhost:$PORT) says why each agent
        // bid or not: only SchemaArchitect has schema_design.
        expect(shown.stdout).toContain(`decisions (runner at http://localhost:${port}):`);
        expect(shown.stdout).toMatch(/^ {2}SchemaArchitect\s+bid\s+\$\d/m);
        expect(shown.stdout).toMatch(/^ {2}AnomalyHunter\s+skip {2}capability: /m);
        expect(shown.stdout).toMatch(/^ {2}CodeReviewer\s+skip {2}capability: /m);
        continue;
      }
      const run = await shell(command, env);
      expect(run.code, `${command}\n${run.stdout}\n${run.stderr}`).toBe(0);
      if (sub === "jobs post") jobId = postedJobId(run.stdout);
      if (sub === "jobs award")
        expect(run.stdout).toMatch(new RegExp(`awarded ${jobId} to bid bid_\\S+ \\(assigned\\)`));
    }
    expect(jobId).toBeDefined();

    // "`jobs show` then prints the result": without FIREWORKS_API_KEY, a failed one that says why.
    const show = second
      .find((l) => l.includes(" jobs show "))
      ?.replaceAll(PLACEHOLDER, jobId ?? "");
    expect(show).toBeDefined();
    const done = await waitFor(
      "the result in `jobs show`",
      async () => {
        const run = await shell(show ?? "", env);
        return run.stdout.includes("result: ") ? run.stdout : undefined;
      },
      { timeoutMs: 90_000, intervalMs: 500 },
    );
    expect(done).toMatch(/^result: FAILED by SchemaArchitect \(agent_[0-9a-f]+\)/m);
    expect(done).toContain(NO_LLM_OUTPUT);

    // Ctrl-C in terminal 1: the runner finishes and stops.
    started.signal("SIGINT");
    await started.waitForLog("the runner stopping", (l) => l.msg === "runner stopped", 60_000);
  });
});
