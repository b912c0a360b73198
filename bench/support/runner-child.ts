/**
 * Runners as child processes for benches: the current build (dist/, compiled first) or
 * the previous version's sources, each sampled for RSS and CPU from /proc.
 */
import { type ChildProcess, execFileSync, spawn, spawnSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { RUNTIME_FLAGS } from "../../bin/runtime-flags.js";

/**
 * The checkout whose runner the benches run as "current": this one, or BENCH_ROOT (a
 * snapshot, e.g. `git archive HEAD` with node_modules linked, while this tree is being
 * edited).
 */
export const ROOT = resolve(process.env.BENCH_ROOT ?? join(import.meta.dirname, "..", ".."));
const CLOCK_TICKS = 100; // USER_HZ on Linux

/** Compiles the current sources to dist/ (what `npm start` runs). */
export function buildCurrent(): void {
  execFileSync(process.execPath, [join(ROOT, "scripts", "build.mjs")], { stdio: "inherit" });
}

/** The entry point of a version: dist/cli/main.js when built, else src/cli/main.ts. */
export function entryOf(root: string, compiled: boolean): string {
  return compiled ? join(root, "dist", "cli", "main.js") : join(root, "src", "cli", "main.ts");
}

/** The node flags every door gives the runner (bin/runtime-flags.js, applied by the bin). */
export function startFlags(): string[] {
  return [...RUNTIME_FLAGS];
}

/**
 * Runs this bench again as a node with the runtime flags, as the runner runs, and exits
 * with its code; returns at once in that second process. A bench calls it before its
 * work, so that what it measures pays what the flags cost (a small young generation,
 * --optimize-for-size's collections).
 */
export function underRuntimeFlags(): void {
  if (process.env.BENCH_UNDER_START_FLAGS) return;
  const again = spawnSync(process.execPath, [...startFlags(), ...process.argv.slice(1)], {
    stdio: "inherit",
    env: { ...process.env, BENCH_UNDER_START_FLAGS: "1" },
  });
  process.exit(again.status ?? 1);
}

/** Pid, parent pid and command line of every process. */
function processTable(): Array<{ pid: number; ppid: number; argv: string[] }> {
  const table: Array<{ pid: number; ppid: number; argv: string[] }> = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      const argv = readFileSync(`/proc/${entry}/cmdline`, "utf8").split("\0").filter(Boolean);
      table.push({ pid: Number(entry), ppid, argv });
    } catch {
      // The process ended between the listing and the read.
    }
  }
  return table;
}

/** `root` and every process below it. */
export function descendants(root: number): Array<{ pid: number; argv: string[] }> {
  const table = processTable();
  const found = table.filter((p) => p.pid === root);
  for (let i = 0; i < found.length; i++) {
    const parent = found[i]!.pid;
    found.push(...table.filter((p) => p.ppid === parent));
  }
  return found;
}

/** A node process running the CLI: the runner, wherever it sits below a wrapper (npm, sh). */
/**
 * BENCH_RUNNER_NODE_OPTIONS reaches the runner as its NODE_OPTIONS, and nothing else of
 * the bench's environment does: e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof` profiles
 * every runner a bench starts (written when the runner exits on the bench's SIGTERM).
 */
function profiling(): Record<string, string> {
  const options = process.env.BENCH_RUNNER_NODE_OPTIONS;
  return options ? { NODE_OPTIONS: options } : {};
}

const RUNS_THE_CLI = (argv: string[]) =>
  /(^|\/)node$/.test(argv[0] ?? "") &&
  argv.some((a) => /(bin\/bazaar-runner\.js|cli\/main\.[jt]s)$/.test(a));

function rssKb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
}

export class RunnerChild {
  readonly child: ChildProcess;
  output = "";
  #runnerPid: number | undefined;

  /**
   * Runs `file args` (node with the CLI, or a wrapper that starts it, such as npm); the
   * figures are the runner's own, found below the wrapper by its command line.
   */
  constructor(file: string, args: string[], env: Record<string, string>, cwd: string) {
    this.child = spawn(file, args, {
      cwd,
      env: { PATH: process.env.PATH ?? "", LOG_LEVEL: "warn", ...profiling(), ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    const keep = (chunk: Buffer) => {
      this.output = (this.output + chunk.toString("utf8")).slice(-20_000);
    };
    this.child.stdout?.on("data", keep);
    this.child.stderr?.on("data", keep);
  }

  /** `node FLAGS ENTRY start`. */
  static node(entry: string, env: Record<string, string>, cwd: string, flags: string[] = []) {
    return new RunnerChild(process.execPath, [...flags, entry, "start"], env, cwd);
  }

  /** The runner's pid: the spawned process itself, or the node process below a wrapper. */
  get pid(): number {
    if (this.#runnerPid !== undefined) return this.#runnerPid;
    const root = this.child.pid;
    if (root === undefined) throw new Error("runner did not start");
    const runner = descendants(root).find((p) => RUNS_THE_CLI(p.argv));
    if (runner === undefined) return root; // not started yet: ask again later
    this.#runnerPid = runner.pid;
    return runner.pid;
  }

  /** The runner's command line (node's flags included), as the system shows it. */
  commandLine(): string[] {
    return readFileSync(`/proc/${this.pid}/cmdline`, "utf8").split("\0").filter(Boolean);
  }

  /** RSS in MB of the processes around the runner (npm and its shell), 0 without any. */
  wrappersRssMb(): number {
    const root = this.child.pid;
    if (root === undefined) return 0;
    let kb = 0;
    for (const p of descendants(root)) {
      if (p.pid === this.pid) continue;
      try {
        kb += rssKb(p.pid);
      } catch {
        // ended meanwhile
      }
    }
    return kb / 1024;
  }

  /** Resident set size in MB. */
  rssMb(): number {
    return rssKb(this.pid) / 1024;
  }

  /** CPU seconds used so far (user + system). */
  cpuSeconds(): number {
    const stat = readFileSync(`/proc/${this.pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
  }

  /**
   * CPU seconds by thread name: `MainThread` (JavaScript, and the collector's share on
   * it), `V8Worker` (the collector's and compilers' helper threads), libuv's pool.
   */
  cpuSecondsByThread(): Map<string, number> {
    const byName = new Map<string, number>();
    for (const task of readdirSync(`/proc/${this.pid}/task`)) {
      try {
        const name = readFileSync(`/proc/${this.pid}/task/${task}/comm`, "utf8").trim();
        const stat = readFileSync(`/proc/${this.pid}/task/${task}/stat`, "utf8");
        const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
        const seconds = (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
        byName.set(name, (byName.get(name) ?? 0) + seconds);
      } catch {
        // The thread ended between the listing and the read.
      }
    }
    return byName;
  }

  /** SIGTERM to the runner itself (npm would exit at once and leave it running). */
  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise((resolve) => this.child.once("exit", resolve));
    const runner = this.pid;
    const kill = (signal: NodeJS.Signals) => {
      try {
        process.kill(runner, signal);
      } catch {
        // gone already
      }
      if (signal === "SIGKILL" && runner !== this.child.pid) this.child.kill(signal);
    };
    kill("SIGTERM");
    const timer = setTimeout(() => kill("SIGKILL"), 15_000);
    await exited;
    clearTimeout(timer);
  }
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** "a" or "a–b": the range of a figure over repeated runs. */
export function range(values: number[], digits: number): string {
  if (values.length === 0) return "–";
  const lo = Math.min(...values).toFixed(digits);
  const hi = Math.max(...values).toFixed(digits);
  return lo === hi ? lo : `${lo}–${hi}`;
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
}
