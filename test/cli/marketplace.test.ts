import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { api, obj, registerAgent } from "../support/marketplace-requests.ts";
import { RunnerProcess } from "../support/runner-process.ts";
import { waitFor } from "../support/wait.ts";
import { lines, runCli, tempDir } from "./cli.ts";

/** `bazaar-runner marketplace`: the stale-agent sweep's periods from the command line. */
describe("bazaar-runner marketplace --stale-after / --sweep-every", { timeout: 120_000 }, () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  const children: RunnerProcess[] = [];

  beforeEach(async () => {
    dir = await tempDir();
  });
  afterEach(async () => {
    for (const child of children.splice(0)) {
      if (child.child.exitCode === null && child.child.signalCode === null) await child.kill9();
    }
    await dir.cleanup();
  });

  it("takes a silent agent offline after --stale-after seconds, swept every --sweep-every", async () => {
    const child = new RunnerProcess(
      { RUNNER_STATE_DIR: join(dir.path, "state") },
      [
        "marketplace",
        "--port",
        "0",
        "--db",
        ":memory:",
        "--stale-after",
        "1",
        "--sweep-every",
        "0.2",
      ],
      { cwd: dir.path },
    );
    children.push(child);
    const listening = await child.waitForLog(
      "the marketplace's listening line",
      (l) => l.msg === "embedded AgentBazaar marketplace listening",
    );
    expect(listening).toMatchObject({ staleAfterSeconds: 1, sweepEverySeconds: 0.2 });
    const a = api(String(listening.url));
    const agentId = await registerAgent(a);
    await waitFor("the silent agent offline", async () => {
      const agent = obj((await a.req("GET", `/api/agents/${agentId}`)).json);
      return agent.status === "offline";
    });
    await child.waitForLog("the sweep's line", (l) => l.msg === "stale agent marked offline");
    expect(await child.terminate()).toEqual({ code: 0, signal: null });
  });

  it("refuses a negative period in one line", async () => {
    const run = await runCli(["marketplace", "--stale-after", "-5"], {
      cwd: dir.path,
      env: { RUNNER_STATE_DIR: join(dir.path, "state") },
    });
    expect(run.code).toBe(1);
    expect(lines(run.stderr)).toEqual([
      expect.stringContaining('--stale-after must be a non-negative number, got "-5"'),
    ]);
  });
});
