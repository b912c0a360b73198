import { writeFile } from "node:fs/promises";
import { createServer, type Server, type Socket } from "node:net";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { TRY_POST_COMMAND } from "../../src/cli/start.ts";
import { RunnerProcess } from "../support/runner-process.ts";
import { tempDir } from "./cli.ts";

type Line = Record<string, unknown>;
const msg = (l: Line) => String(l.msg ?? "");

/**
 * What `start` tells a newcomer (issue 14 items 4–6): the settings in effect and where
 * they came from, how to stop, what to try next, one "listening" line, a warning when
 * the dashboard is open to the network, and a quick, clear failure on an unreachable
 * MongoDB. Free ports throughout (MARKETPLACE_PORT=0, PORT=0).
 */
describe("the start log", { timeout: 120_000 }, () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  const processes: RunnerProcess[] = [];
  const cleanups: Array<() => Promise<void>> = [];

  beforeEach(async () => {
    dir = await tempDir("bazaar-start-log-");
  });
  afterEach(async () => {
    for (const p of processes.splice(0))
      if (p.child.exitCode === null && p.child.signalCode === null) await p.kill9();
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
    await dir.cleanup();
  });

  function start(env: Record<string, string>): RunnerProcess {
    const p = new RunnerProcess(
      {
        RUNNER_STATE_DIR: join(dir.path, "state"),
        MARKETPLACE_PORT: "0",
        PORT: "0",
        LOG_LEVEL: "info",
        ...env,
      },
      ["start"],
      { cwd: dir.path },
    );
    processes.push(p);
    return p;
  }

  const started = (p: RunnerProcess) =>
    p.waitForLog(
      "the try-next line",
      (l) => msg(l).startsWith("try, in another terminal:"),
      30_000,
    );

  it("says the settings and their origin, how to stop and what to try, and 'listening' once", async () => {
    await writeFile(join(dir.path, ".env"), "AGENT_HEARTBEAT_INTERVAL=7\n");
    const runner = start({ HOST: "127.0.0.1", AGENT_POLL_INTERVAL: "3" });
    const next = await started(runner);

    expect(runner.lines.filter((l) => msg(l).startsWith("Server listening"))).toEqual([]);
    expect(runner.count((l) => msg(l) === "health, metrics and dashboard listening")).toBe(1);
    expect(runner.count((l) => msg(l).includes("listening"))).toBe(1);
    // Next to the dashboard's address, the embedded marketplace's poster page, which answers.
    const listening = runner.lines.find(
      (l) => msg(l) === "health, metrics and dashboard listening",
    );
    const market = runner.lines.find((l) => msg(l).includes("serving the embedded AgentBazaar"));
    expect(listening?.posterPage).toBe(`${String(market?.url)}/poster/`);
    const posterPage = await fetch(String(listening?.posterPage));
    expect(posterPage.headers.get("content-type")).toBe("text/html; charset=utf-8");
    await posterPage.body?.cancel();

    const settings = runner.lines.find((l) => msg(l).startsWith("settings: "));
    expect(msg(settings ?? {})).toBe(
      "settings: poll every 3 s (AGENT_POLL_INTERVAL from the environment); " +
        "heartbeat every 7 s (AGENT_HEARTBEAT_INTERVAL from .env); agents from the built-in defaults; " +
        "set in the environment: MARKETPLACE_PORT, AGENT_POLL_INTERVAL, RUNNER_STATE_DIR, HOST, PORT, LOG_LEVEL; " +
        "in .env: AGENT_HEARTBEAT_INTERVAL; the rest are defaults",
    );
    expect(settings?.settings).toMatchObject({
      pollIntervalSeconds: 3,
      heartbeatIntervalSeconds: 7,
    });

    expect(
      runner.lines.some(
        (l) =>
          msg(l) ===
          "Ctrl-C (SIGINT/SIGTERM) stops the runner: no new bids, in-flight jobs finish (up to 30 s, SHUTDOWN_GRACE_PERIOD), agents go offline",
      ),
    ).toBe(true);
    expect(msg(next)).toBe(`try, in another terminal: ${TRY_POST_COMMAND}`);
    // Loopback: no warning about an open dashboard.
    expect(runner.lines.some((l) => msg(l).includes("are open to anyone"))).toBe(false);

    // Ctrl-C does what the log said.
    runner.child.kill("SIGINT");
    expect(await runner.exit).toEqual({ code: 0, signal: null });
    expect(runner.lines.some((l) => msg(l) === "runner stopped")).toBe(true);
  });

  it("bound to every interface without DASHBOARD_TOKEN: one warning that the dashboard is open", async () => {
    const open = start({ HOST: "0.0.0.0" });
    await started(open);
    const warnings = open.lines.filter((l) => msg(l).includes("are open to anyone"));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]?.level).toBe(40);
    expect(msg(warnings[0] ?? {})).toBe(
      "the dashboard and /api/* are open to anyone who can reach 0.0.0.0: set DASHBOARD_TOKEN, or HOST=127.0.0.1",
    );
    // Still one "listening" line, though fastify would name every interface.
    expect(open.count((l) => msg(l).includes("listening"))).toBe(1);
    expect(await open.terminate()).toEqual({ code: 0, signal: null });

    const guarded = start({
      HOST: "0.0.0.0",
      DASHBOARD_TOKEN: "a-dashboard-token",
      RUNNER_STATE_DIR: join(dir.path, "guarded"),
    });
    await started(guarded);
    expect(guarded.lines.some((l) => msg(l).includes("are open to anyone"))).toBe(false);
    expect(await guarded.terminate()).toEqual({ code: 0, signal: null });
  });

  it("an unreachable MONGODB_URI: says what it tries (password redacted), then fails with the reason", async () => {
    // A server that accepts TCP and never answers: the case that used to wait 30 s in silence.
    const sockets = new Set<Socket>();
    const silent: Server = createServer((socket) => sockets.add(socket));
    await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
    cleanups.push(async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => silent.close(() => resolve()));
    });
    const port = (silent.address() as { port: number }).port;
    const password = "mongo-pw-never-printed";
    const runner = start({ MONGODB_URI: `mongodb://runner:${password}@127.0.0.1:${port}/` });

    // The test's own limit: far above the 5 s the driver now gets, far below its old 30 s.
    const exit = await Promise.race([
      runner.exit,
      new Promise<"still running">((resolve) => setTimeout(() => resolve("still running"), 25_000)),
    ]);
    expect(exit).toEqual({ code: 1, signal: null });
    const trying = runner.lines.find((l) => msg(l) === "connecting to MongoDB");
    expect(trying?.uri).toBe(`mongodb://runner:[REDACTED]@127.0.0.1:${port}/`);
    expect(runner.raw.at(-1)).toBe(
      `bazaar-runner: MongoDB at mongodb://runner:[REDACTED]@127.0.0.1:${port}/ is unreachable: Server selection timed out after 5000 ms`,
    );
    expect(runner.raw.join("\n")).not.toContain(password);
  });
});
