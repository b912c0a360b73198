/**
 * Runners as child processes for benches: the current build (dist/, compiled first) or
 * the previous version's sources, each sampled for RSS and CPU from /proc.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";

export const ROOT = resolve(import.meta.dirname, "..", "..");
const CLOCK_TICKS = 100; // USER_HZ on Linux

/** Compiles the current sources to dist/ (what `npm start` runs). */
export function buildCurrent(): void {
  execFileSync(process.execPath, [join(ROOT, "scripts", "build.mjs")], { stdio: "inherit" });
}

/** The entry point of a version: dist/cli/main.js when built, else src/cli/main.ts. */
export function entryOf(root: string, compiled: boolean): string {
  return compiled ? join(root, "dist", "cli", "main.js") : join(root, "src", "cli", "main.ts");
}

/** The node flags `npm start` gives the current version (package.json's start script). */
export function startFlags(): string[] {
  const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as {
    scripts: Record<string, string>;
  };
  return (pkg.scripts.start ?? "").split(" ").filter((part) => part.startsWith("--"));
}

export class RunnerChild {
  readonly child: ChildProcess;
  output = "";

  constructor(entry: string, env: Record<string, string>, cwd: string, flags: string[] = []) {
    this.child = spawn(process.execPath, [...flags, entry, "start"], {
      cwd,
      env: { PATH: process.env.PATH ?? "", LOG_LEVEL: "warn", ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    const keep = (chunk: Buffer) => {
      this.output = (this.output + chunk.toString("utf8")).slice(-20_000);
    };
    this.child.stdout?.on("data", keep);
    this.child.stderr?.on("data", keep);
  }

  get pid(): number {
    if (this.child.pid === undefined) throw new Error("runner did not start");
    return this.child.pid;
  }

  /** Resident set size in MB. */
  rssMb(): number {
    const status = readFileSync(`/proc/${this.pid}/status`, "utf8");
    const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? Number.NaN);
    return kb / 1024;
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

  async stop(): Promise<void> {
    if (this.child.exitCode !== null) return;
    const exited = new Promise((resolve) => this.child.once("exit", resolve));
    this.child.kill("SIGTERM");
    const timer = setTimeout(() => this.child.kill("SIGKILL"), 15_000);
    await exited;
    clearTimeout(timer);
  }
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
}
