import { readFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { RUNTIME_FLAGS } from "../bin/runtime-flags.js";
import { type RunningMarketplace, startMarketplace } from "../src/marketplace-server/index.ts";
import { tempDir } from "./cli/cli.ts";
import { RunnerProcess } from "./support/runner-process.ts";

const ROOT = resolve(import.meta.dirname, "..");
const msg = (l: Record<string, unknown>) => String(l.msg ?? "");
const OPEN_WARNING = "are open to anyone who can reach";

/** The Dockerfile's ENV settings, continuation lines joined. */
function dockerEnv(dockerfile: string): Record<string, string> {
  const env: Record<string, string> = {};
  const joined = dockerfile.replace(/\\\n\s*/g, " ");
  for (const line of joined.split("\n")) {
    const match = /^ENV\s+(.*)$/.exec(line.trim());
    if (!match?.[1]) continue;
    for (const pair of match[1].trim().split(/\s+/)) {
      const [name, ...value] = pair.split("=");
      if (name) env[name] = value.join("=");
    }
  }
  return env;
}

/**
 * Outside a container the dashboard binds 127.0.0.1; the image and Railway bind every
 * interface, and say (one warning) that the dashboard is open without DASHBOARD_TOKEN.
 */
describe("deployments bind every interface", { timeout: 120_000 }, () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let market: RunningMarketplace;
  const processes: RunnerProcess[] = [];

  beforeEach(async () => {
    dir = await tempDir("bazaar-deploy-");
    market = await startMarketplace({
      host: "127.0.0.1",
      port: 0,
      dbPath: join(dir.path, "m.sqlite"),
    });
  });
  afterEach(async () => {
    for (const p of processes.splice(0)) p.signal("SIGKILL");
    await market.close();
    await dir.cleanup();
  });

  it("the Dockerfile sets HOST=0.0.0.0", async () => {
    const env = dockerEnv(await readFile(join(ROOT, "Dockerfile"), "utf8"));
    expect(env.HOST).toBe("0.0.0.0");
    expect(env.PORT).toBe("8080");
  });

  it("every door starts the bin, and only bin/runtime-flags.js names node's flags", async () => {
    const pkg = JSON.parse(await readFile(join(ROOT, "package.json"), "utf8")) as {
      bin: Record<string, string>;
      scripts: Record<string, string>;
    };
    const railway = JSON.parse(await readFile(join(ROOT, "railway.json"), "utf8")) as {
      deploy: { startCommand: string };
    };
    const dockerfile = await readFile(join(ROOT, "Dockerfile"), "utf8");
    const cmd = JSON.parse(/^CMD (\[.*\])$/m.exec(dockerfile)?.[1] ?? "[]") as string[];
    // The memory figures in bench/RESULTS.md are measured with these flags.
    expect(RUNTIME_FLAGS).toEqual([
      "--max-semi-space-size=2",
      "--optimize-for-size",
      "--liftoff-only",
      "--no-concurrent-recompilation",
      "--no-memory-reducer",
    ]);
    expect(pkg.bin["bazaar-runner"]).toBe("bin/bazaar-runner.js");
    // What node is given in each: the bin, no flags of its own (the bin adds them, so a
    // flag written here would be a second list that could drift from the first).
    const node = (command: string) => {
      const words = command.replace(/\\?"/g, " ").split(/\s+/);
      return words.slice(words.indexOf("node") + 1, words.indexOf("bin/bazaar-runner.js") + 1);
    };
    expect(node(pkg.scripts.start ?? "")).toEqual(["bin/bazaar-runner.js"]);
    expect(pkg.scripts.start).toBe("node bin/bazaar-runner.js start");
    expect(node(pkg.scripts["bazaar-runner"] ?? "")).toEqual(["bin/bazaar-runner.js"]);
    expect(node(railway.deploy.startCommand)).toEqual(["bin/bazaar-runner.js"]);
    expect(cmd).toEqual(["node", "bin/bazaar-runner.js", "start"]);
  });

  it("railway.json's start command binds 0.0.0.0 (warning once), unless HOST is set", async () => {
    const railway = JSON.parse(await readFile(join(ROOT, "railway.json"), "utf8")) as {
      deploy: { startCommand: string };
    };
    const command = railway.deploy.startCommand;
    const run = (env: Record<string, string>) => {
      const p = new RunnerProcess(
        {
          BAZAAR_API_URL: market.url,
          PORT: "0",
          RUNNER_STATE_DIR: join(dir.path, `state-${processes.length}`),
          LOG_LEVEL: "info",
          ...env,
        },
        [],
        // `exec`: Railway runs the command itself (exec form), so node ends up as the process.
        { cwd: ROOT, shell: `exec ${command}` },
      );
      processes.push(p);
      return p;
    };

    const deployed = run({});
    await deployed.waitForLog(
      "the summary",
      (l) => msg(l).startsWith("try, in another terminal:"),
      60_000,
    );
    // sh hands over to node (exec), which the bin turns into node with the flags (execve):
    // one process, the one Railway signals.
    const cmdline = await readFile(`/proc/${deployed.child.pid}/cmdline`, "utf8");
    expect(cmdline.split("\0").slice(1, 1 + RUNTIME_FLAGS.length)).toEqual(RUNTIME_FLAGS);
    const warnings = deployed.lines.filter((l) => msg(l).includes(OPEN_WARNING));
    expect(warnings.map(msg)).toEqual([
      `the dashboard and /api/* are open to anyone who can reach 0.0.0.0: set DASHBOARD_TOKEN, or HOST=127.0.0.1`,
    ]);
    expect(await deployed.terminate()).toEqual({ code: 0, signal: null });

    const local = run({ HOST: "127.0.0.1" });
    await local.waitForLog(
      "the summary",
      (l) => msg(l).startsWith("try, in another terminal:"),
      60_000,
    );
    expect(local.lines.some((l) => msg(l).includes(OPEN_WARNING))).toBe(false);
    expect(await local.terminate()).toEqual({ code: 0, signal: null });
  });
});
