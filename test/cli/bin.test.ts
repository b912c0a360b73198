import { readdirSync, readFileSync } from "node:fs";
import { symlink } from "node:fs/promises";
import { join, resolve } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { RELAUNCHED } from "../../bin/relaunch.js";
import { missingFlags, RUNTIME_FLAGS } from "../../bin/runtime-flags.js";
import { type RunningMarketplace, startMarketplace } from "../../src/marketplace-server/index.ts";
import { RunnerProcess } from "../support/runner-process.ts";
import { waitFor } from "../support/wait.ts";
import { MAIN, runProcess, tempDir } from "./cli.ts";

/**
 * The package's bin, the door of `npx bazaar-runner`, a global install, `npm start`, the
 * image and Railway: it runs node with the runtime flags (bin/runtime-flags.js), stays
 * the process that signals reach, and ends as the runner ends.
 */
const ROOT = resolve(import.meta.dirname, "../..");
const BIN = join(ROOT, "bin", "bazaar-runner.js");
/** node without execve, as on Windows: the bin's other way, a child process. */
const NO_EXECVE = ["--import", "data:text/javascript,delete%20process.execve"];
const msg = (l: Record<string, unknown>) => String(l.msg ?? "");
const SUMMARY = (l: Record<string, unknown>) => msg(l).startsWith("try, in another terminal:");
const STOPPED = (l: Record<string, unknown>) => msg(l) === "runner stopped";

const commandLine = (pid: number) =>
  readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").filter(Boolean);

/** The processes whose parent is `pid`. */
function childrenOf(pid: number): number[] {
  const children: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      if (Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]) === pid)
        children.push(Number(entry));
    } catch {
      // ended meanwhile
    }
  }
  return children;
}

/** Node's own arguments in a command line: those before the bin. */
const nodeFlags = (argv: string[]) => argv.slice(1, argv.indexOf(BIN));

describe("missingFlags", () => {
  it("adds every flag that neither node's command line nor NODE_OPTIONS sets", () => {
    expect(missingFlags([])).toEqual(RUNTIME_FLAGS);
    expect(missingFlags(RUNTIME_FLAGS)).toEqual([]);
    // A setting given by the user stands, in any spelling (and in the other sense).
    expect(
      missingFlags(
        ["--max_semi_space_size=8", "--concurrent-recompilation", "--memory_reducer"],
        "--inspect",
      ),
    ).toEqual(["--optimize-for-size", "--liftoff-only"]);
    expect(missingFlags([], "--max-semi-space-size=4")).toEqual(RUNTIME_FLAGS.slice(1));
  });
});

describe("bin/bazaar-runner.js", { timeout: 180_000 }, () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let market: RunningMarketplace;
  const processes: RunnerProcess[] = [];

  beforeEach(async () => {
    dir = await tempDir("bazaar-bin-");
    market = await startMarketplace({
      host: "127.0.0.1",
      port: 0,
      dbPath: join(dir.path, "m.sqlite"),
    });
  });
  afterEach(async () => {
    for (const p of processes.splice(0)) {
      for (const child of p.child.pid ? childrenOf(p.child.pid) : []) {
        try {
          process.kill(child, "SIGKILL");
        } catch {
          // gone
        }
      }
      p.signal("SIGKILL");
    }
    await market.close();
    await dir.cleanup();
  });

  /** `COMMAND start` through /bin/sh's exec, so the child's pid is the command's own. */
  function start(command: string, env: Record<string, string> = {}): RunnerProcess {
    const p = new RunnerProcess(
      {
        BAZAAR_API_URL: market.url,
        PORT: "0",
        HOST: "127.0.0.1",
        RUNNER_STATE_DIR: join(dir.path, `state-${processes.length}`),
        LOG_LEVEL: "info",
        ...env,
      },
      [],
      { cwd: dir.path, shell: `exec ${command} start` },
    );
    processes.push(p);
    return p;
  }

  it("becomes node with the runtime flags in the same process, which SIGTERM shuts down gracefully", async () => {
    const runner = start(`node ${BIN}`);
    await runner.waitForLog("the summary", SUMMARY, 90_000);
    const pid = runner.child.pid!;
    const argv = commandLine(pid);
    expect(nodeFlags(argv)).toEqual(RUNTIME_FLAGS);
    expect(argv.slice(-2)).toEqual([BIN, "start"]);
    // Relaunched once, in place: no second process, the flags once, the mark set.
    expect(childrenOf(pid)).toEqual([]);
    expect(readFileSync(`/proc/${pid}/environ`, "utf8").split("\0")).toContain(`${RELAUNCHED}=1`);

    // To the process alone, not its group: as `docker stop` or Railway send it.
    runner.child.kill("SIGTERM");
    expect(await runner.exit).toEqual({ code: 0, signal: null });
    expect(runner.count(STOPPED)).toBe(1);
  });

  it("through a global install's link (its shebang) the same; NODE_OPTIONS' choice stands; Ctrl-C stops it", async () => {
    const link = join(dir.path, "bazaar-runner");
    await symlink(BIN, link);
    const runner = start(link, { NODE_OPTIONS: "--max-semi-space-size=4" });
    await runner.waitForLog("the summary", SUMMARY, 90_000);
    const argv = commandLine(runner.child.pid!);
    expect(nodeFlags(argv)).toEqual(RUNTIME_FLAGS.slice(1));
    expect(readFileSync(`/proc/${runner.child.pid}/environ`, "utf8")).toContain(
      "NODE_OPTIONS=--max-semi-space-size=4",
    );

    expect(await runner.interrupt()).toEqual({ code: 0, signal: null });
    expect(runner.count(STOPPED)).toBe(1);
  });

  it("without execve (Windows) runs node as a child: signals reach it, its exit code or signal comes back", async () => {
    const graceful = start(`node ${NO_EXECVE.join(" ")} ${BIN}`);
    await graceful.waitForLog("the summary", SUMMARY, 90_000);
    const parent = graceful.child.pid!;
    expect(nodeFlags(commandLine(parent))).toEqual(NO_EXECVE);
    const [child] = childrenOf(parent);
    expect(nodeFlags(commandLine(child!))).toEqual([...NO_EXECVE, ...RUNTIME_FLAGS]);
    graceful.child.kill("SIGTERM"); // to the parent only: it forwards it
    expect(await graceful.exit).toEqual({ code: 0, signal: null });
    expect(graceful.count(STOPPED)).toBe(1);

    const killed = start(`node ${NO_EXECVE.join(" ")} ${BIN}`);
    await killed.waitForLog("the summary", SUMMARY, 90_000);
    const [runner] = await waitFor("the runner's process", () => childrenOf(killed.child.pid!));
    process.kill(runner!, "SIGKILL");
    expect(await killed.exit).toEqual({ code: null, signal: "SIGKILL" });
  });

  it("a configuration error or an unknown command exits 1 through every door", async () => {
    const link = join(dir.path, "bazaar-runner");
    await symlink(BIN, link);
    const env = { PATH: process.env.PATH ?? "", AGENT_POLL_INTERVAL: "soon" };
    const doors: Array<[string, string, string[]]> = [
      ["node src/cli/main.ts", process.execPath, [MAIN]],
      ["node bin/bazaar-runner.js", process.execPath, [BIN]],
      ["a global install's link", link, []],
      ["the bin without execve", process.execPath, [...NO_EXECVE, BIN]],
      // Its prestart (the build) is not what is tested here.
      ["npm start", "npm", ["--prefix", ROOT, "start", "--ignore-scripts"]],
    ];
    for (const [door, file, args] of doors) {
      const config = await runProcess(file, [...args, ...(door === "npm start" ? [] : ["start"])], {
        env,
        cwd: dir.path,
      });
      expect({ door, code: config.code, signal: config.signal }).toEqual({
        door,
        code: 1,
        signal: null,
      });
      expect(config.stderr).toContain(
        "bazaar-runner: configuration error: AGENT_POLL_INTERVAL: must be a number of seconds",
      );
      if (door === "npm start") continue;
      const unknown = await runProcess(file, [...args, "strat"], { env, cwd: dir.path });
      expect({ door, code: unknown.code }).toEqual({ door, code: 1 });
      expect(unknown.stderr).toContain("bazaar-runner: unknown command 'strat'");
    }
  });
});
