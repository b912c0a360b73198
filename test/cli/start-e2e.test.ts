import { connect } from "node:net";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { DEFAULT_MODEL } from "../../src/config/env.ts";
import { isAgentBazaar } from "../../src/marketplace-server/index.ts";
import { startTestLlmServer, type TestLlmServer } from "../support/llm-server.ts";
import { RunnerProcess } from "../support/runner-process.ts";
import { PROCESS_WAIT_MS, waitFor } from "../support/wait.ts";
import { type CliRun, postedJobId, runCli, tempDir } from "./cli.ts";

/**
 * `npm start` as a user runs it: BAZAAR_API_URL unset, so `start` serves the embedded
 * marketplace on 127.0.0.1:8000. The only test file that may use port 8000.
 */
const EMBEDDED_URL = "http://127.0.0.1:8000";

/** Whether anything accepts a TCP connection on 127.0.0.1:8000. */
function portTaken(): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: "127.0.0.1", port: 8000 });
    socket.setTimeout(1000);
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("timeout", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

async function whyNot(): Promise<string | undefined> {
  if (!(await portTaken())) return undefined;
  if (await isAgentBazaar(EMBEDDED_URL))
    return "an AgentBazaar API from elsewhere already answers on 127.0.0.1:8000, so `start` would reuse it instead of serving its own";
  return "port 8000 on 127.0.0.1 is taken by something that is not AgentBazaar";
}

const skipReason = await whyNot();
const title = skipReason ? `npm start end to end (skipped: ${skipReason})` : "npm start end to end";

const SCHEMA_JOB = {
  title: "Design a PostgreSQL schema for orders",
  description:
    "We need a database schema with tables, foreign keys and indexes for customers, orders and order lines.",
};

// Two runners and a dozen CLI runs: a loaded machine needs more than the default 30 s.
describe.skipIf(skipReason !== undefined)(title, { timeout: 120_000 }, () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let llm: TestLlmServer;
  const processes: RunnerProcess[] = [];

  beforeEach(async () => {
    dir = await tempDir("bazaar-start-e2e-");
    llm = await startTestLlmServer();
  });
  afterEach(async () => {
    for (const p of processes.splice(0)) {
      if (p.child.exitCode === null && p.child.signalCode === null) await p.kill9();
    }
    await llm.close();
    await dir.cleanup();
  });

  /** `bazaar-runner start` with BAZAAR_API_URL unset, as `npm start` runs it. */
  function start(name: string): RunnerProcess {
    const p = new RunnerProcess(
      {
        RUNNER_STATE_DIR: join(dir.path, name),
        PORT: "0",
        HOST: "127.0.0.1",
        FIREWORKS_API_KEY: llm.apiKey,
        LLM_BASE_URL: llm.url,
        AGENT_POLL_INTERVAL: "0.3",
        AGENT_HEARTBEAT_INTERVAL: "1",
        LOG_LEVEL: "info",
      },
      ["start"],
      { cwd: dir.path },
    );
    processes.push(p);
    return p;
  }

  /** The CLI as a user types it: no BAZAAR_API_URL, so the default http://localhost:8000. */
  const cli = (...args: string[]): Promise<CliRun> => runCli(args, { cwd: dir.path });

  async function showUntil(jobId: string, what: string, done: (out: string) => boolean) {
    return waitFor(
      what,
      async () => {
        const run = await cli("jobs", "show", jobId);
        return run.code === 0 && done(run.stdout) ? run.stdout : undefined;
      },
      { timeoutMs: PROCESS_WAIT_MS, intervalMs: 200 },
    );
  }

  // Two runner processes and a dozen CLI processes, each starting Node: on a busy
  // machine that alone can outlast the suite's default. Every wait inside has its own
  // deadline and names what it waited for; this is only the backstop.
  it("serves the embedded marketplace; post, bid, award and result through the CLI; SIGTERM exits 0", {
    timeout: 240_000,
  }, async () => {
    const runner = start("first");
    const http = await runner.waitForLog(
      "the runner's HTTP surface",
      (l) => l.msg === "health, metrics and dashboard listening",
    );

    // It says, in its first lines, that it serves the embedded marketplace on :8000.
    const first = runner.lines.slice(0, 3).map((l) => l.msg);
    expect(first).toContain(
      "BAZAAR_API_URL is unset: serving the embedded AgentBazaar marketplace",
    );
    const serving = runner.lines.find((l) => String(l.msg).startsWith("BAZAAR_API_URL is unset"));
    expect(serving?.url).toBe(EMBEDDED_URL);
    expect(await isAgentBazaar(EMBEDDED_URL)).toBe(true);
    await waitFor(
      "three agents registered",
      async () => {
        const run = await fetch(`${String(http.url)}/api/status`);
        const body = (await run.json()) as { agents: Array<{ state: string }> };
        return body.agents.filter((a) => a.state === "running").length === 3;
      },
      { timeoutMs: PROCESS_WAIT_MS, intervalMs: 200 },
    );

    const posted = await cli(
      "jobs",
      "post",
      "--title",
      SCHEMA_JOB.title,
      "--description",
      SCHEMA_JOB.description,
      "--budget",
      "1",
      "--capability",
      "schema_design",
    );
    expect(posted.code, posted.stderr).toBe(0);
    const jobId = postedJobId(posted.stdout);

    const withBid = await showUntil(jobId, "SchemaArchitect's bid", (out) =>
      /^\s+bid_\S+\s+pending\s+.*SchemaArchitect \(agent_[0-9a-f]+\)$/m.test(out),
    );
    // Only SchemaArchitect has the capability: the others must not have bid.
    expect(withBid).not.toContain("AnomalyHunter");
    expect(withBid).not.toContain("CodeReviewer");

    const awarded = await cli("jobs", "award", jobId, "--best");
    expect(awarded.code, awarded.stderr).toBe(0);
    expect(awarded.stdout).toMatch(new RegExp(`^awarded ${jobId} to bid bid_\\S+ \\(assigned\\)`));

    const done = await showUntil(jobId, "the submitted result", (out) => out.includes("result: "));
    expect(done).toMatch(new RegExp(`^${jobId}\\s+completed`, "m"));
    expect(done).toMatch(
      new RegExp(
        `^result: success by SchemaArchitect \\(agent_[0-9a-f]+\\) \\(${DEFAULT_MODEL},`,
        "m",
      ),
    );
    // The output is the test LLM's answer, asked with the configured key.
    expect(done).toContain(`Answer from ${DEFAULT_MODEL}:`);
    const asked = llm.completionRequests();
    expect(asked.length).toBeGreaterThan(0);
    expect(asked.every((r) => r.headers.authorization === `Bearer ${llm.apiKey}`)).toBe(true);
    expect(JSON.stringify(asked.at(-1)?.body?.messages)).toContain(SCHEMA_JOB.title);

    // A second `start` with BAZAAR_API_URL unset reuses the marketplace on :8000.
    const second = start("second");
    const reuse = await second.waitForLog(
      "the second runner's reuse line",
      (l) => typeof l.msg === "string" && l.msg.includes("already answers on port 8000"),
    );
    expect(reuse.url).toBe(EMBEDDED_URL);
    await second.waitForLog(
      "the second runner's HTTP surface",
      (l) => l.msg === "health, metrics and dashboard listening",
    );
    expect(second.lines.some((l) => String(l.msg).includes("serving the embedded"))).toBe(false);
    expect(await second.terminate()).toEqual({ code: 0, signal: null });
    // The first one's marketplace is unaffected.
    const listed = await cli("jobs", "list");
    expect(listed.code, listed.stderr).toBe(0);
    expect(listed.stdout).toContain(jobId);

    expect(await runner.terminate()).toEqual({ code: 0, signal: null });
    expect(runner.lines.some((l) => l.msg === "runner stopped")).toBe(true);
    expect(runner.raw.join("\n")).not.toContain(llm.apiKey);
    // Its embedded marketplace went with it.
    expect(await portTaken()).toBe(false);
  });
});
