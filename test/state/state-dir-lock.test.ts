import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { startMarketplace } from "../../src/marketplace-server/index.ts";
import { lockStateDir, StateDirLockedError } from "../../src/state/state-dir-lock.ts";
import { RunnerProcess } from "../support/runner-process.ts";
import { waitFor } from "../support/wait.ts";

describe("the state-dir lock (no MongoDB)", { timeout: 90_000 }, () => {
  let dir: string;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "state-lock-"));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("is held by one owner at a time and free again once released", () => {
    const lock = lockStateDir(join(dir, "state"));
    expect(() => lockStateDir(join(dir, "state"))).toThrow(StateDirLockedError);
    lock.release();
    lockStateDir(join(dir, "state")).release();
  });

  it("takes over a lock whose process is gone", async () => {
    const state = join(dir, "state");
    lockStateDir(state).release();
    // A pid that cannot be running: beyond the kernel's pid range.
    await writeFile(join(state, "runner.lock"), "4194305\n");
    const lock = lockStateDir(state);
    expect((await readFile(lock.path, "utf8")).trim()).toBe(String(process.pid));
    lock.release();
  });

  it("a second runner on the same RUNNER_STATE_DIR refuses to start, naming the lock and the pid; after kill -9 of the first a new one starts", async () => {
    const marketplace = await startMarketplace({
      host: "127.0.0.1",
      port: 0,
      dbPath: join(dir, "market.sqlite"),
    });
    const processes: RunnerProcess[] = [];
    const launch = () => {
      const p = new RunnerProcess(
        {
          BAZAAR_API_URL: marketplace.url,
          RUNNER_STATE_DIR: join(dir, "runner"),
          AGENT_POLL_INTERVAL: "0.5",
          // Long enough that the killed runner's last heartbeat is within one interval.
          AGENT_HEARTBEAT_INTERVAL: "60",
          PORT: "0",
          HOST: "127.0.0.1",
        },
        ["start"],
        { cwd: dir },
      );
      processes.push(p);
      return p;
    };
    try {
      const first = launch();
      await first.waitForLog("the first runner", (l) => l.msg === "agent running", 20_000);
      const second = launch();
      const exit = await second.exit;
      expect(exit.code).toBe(1);
      const lockPath = join(dir, "runner", "runner.lock");
      expect(second.raw).toEqual([
        `bazaar-runner: RUNNER_STATE_DIR is in use: ${lockPath} is held by pid ${first.child.pid}; run one runner per state directory, or share agents between replicas through MongoDB`,
      ]);

      // Heartbeats start at a random moment within the interval (at most 10 s in): one is
      // sent before the kill, so the third start finds a fresh last_active.
      const surface = await first.waitForLog(
        "the HTTP surface",
        (l) => l.msg === "health, metrics and dashboard listening",
        20_000,
      );
      await waitFor(
        "a heartbeat of the first runner",
        async () =>
          /bazaar_runner_heartbeats_total\{[^}]*outcome="ok"[^}]*\} [1-9]/.test(
            await (await fetch(`${String(surface.url)}/metrics`)).text(),
          ) || undefined,
        { timeoutMs: 30_000 },
      );
      await first.kill9();
      const third = launch();
      await third.waitForLog("the third runner", (l) => l.msg === "agent running", 20_000);
      // The first start registered the agents afresh: nobody had heartbeated them.
      expect(first.count((l) => String(l.msg).startsWith("the agent was heartbeated"))).toBe(0);
      // Started in full (its signal handlers too) before it is asked to stop.
      await third.waitForLog(
        "the third runner listening",
        (l) => l.msg === "health, metrics and dashboard listening",
        30_000,
      );
      // Its registration stamped the agents' last_active (the service does so on every
      // registration): that is not another runner's heartbeat, and the killed runner
      // sends none, so nothing is said (issue 22, item 8).
      expect(third.count((l) => String(l.msg).startsWith("the agent was heartbeated"))).toBe(0);
      expect((await third.terminate()).code).toBe(0);
    } finally {
      for (const p of processes) if (p.child.exitCode === null) await p.kill9();
      await marketplace.close();
    }
  });
});
