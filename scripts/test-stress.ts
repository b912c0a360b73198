/**
 * Repeats the vitest suite under CPU contention and prints every failure with its
 * count: the hunt for timing-dependent tests (`npm run test:stress -- --help`).
 *
 * The CPU hogs are stress-ng when it is installed, else Node busy-loop children. Each
 * run gets fresh hogs that are killed when the run ends, and on exit, Ctrl-C or
 * SIGTERM; should this script itself be killed with SIGKILL, stress-ng ends at its own
 * timeout and the Node hogs as soon as their pipe to this process closes.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { availableParallelism, constants } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";

const USAGE = `Usage: npm run test:stress -- [options] [vitest filters...]

Repeats \`vitest run\` under CPU contention and prints the failures with their counts.

Options:
  -n, --runs <n>      runs of the suite (default 10)
  --hogs <n>          CPU hogs, one busy core each (default 1; 0 for none)
  --load <percent>    how busy each hog keeps its core, 1-100 (default 100)
  --hog <kind>        stress-ng | node (default: stress-ng when installed)
  --repeats <n>       vitest --repeats: run each test n more times within a run
  --bail              stop after the first run with a failure
  -h, --help          this text

Filters are passed to vitest (file name fragments), e.g. test/runner.
Each run's log and JSON report are kept in test-results/stress/.`;

/** stress-ng stops on its own after this long, should this script die without cleaning up. */
const HOG_TIMEOUT_S = 3600;

interface Options {
  runs: number;
  hogs: number;
  load: number;
  hog: "stress-ng" | "node";
  repeats: number;
  bail: boolean;
  filters: string[];
}

function parseOptions(argv: string[]): Options {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      runs: { type: "string", short: "n", default: "10" },
      hogs: { type: "string", default: "1" },
      load: { type: "string", default: "100" },
      hog: { type: "string" },
      repeats: { type: "string", default: "0" },
      bail: { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const count = (name: string, raw: string, min: number, max = Number.MAX_SAFE_INTEGER) => {
    const n = Number(raw);
    if (!Number.isInteger(n) || n < min || n > max) {
      console.error(`--${name} must be an integer from ${min} to ${max}, not "${raw}"\n\n${USAGE}`);
      process.exit(2);
    }
    return n;
  };
  const hog = values.hog ?? (hasStressNg() ? "stress-ng" : "node");
  if (hog !== "stress-ng" && hog !== "node") {
    console.error(`--hog must be stress-ng or node, not "${hog}"`);
    process.exit(2);
  }
  if (hog === "stress-ng" && !hasStressNg()) {
    console.error("--hog stress-ng: stress-ng is not installed (apt-get install stress-ng)");
    process.exit(2);
  }
  return {
    runs: count("runs", values.runs, 1),
    hogs: count("hogs", values.hogs, 0, 64),
    load: count("load", values.load, 1, 100),
    hog,
    repeats: count("repeats", values.repeats, 0),
    bail: values.bail,
    filters: positionals,
  };
}

function hasStressNg(): boolean {
  return spawnSync("stress-ng", ["--version"], { stdio: "ignore" }).status === 0;
}

/**
 * A Node hog: spins for `load`% of each 100 ms slice and yields in between, so that
 * it notices its parent going away (the IPC channel closes) and exits.
 */
const NODE_HOG = `
const busyMs = Number(process.argv[1]);
process.on("disconnect", () => process.exit(0));
const slice = () => {
  const end = performance.now() + busyMs;
  while (performance.now() < end);
  setTimeout(slice, 100 - busyMs);
};
slice();
`;

/** The CPU hogs of one run; each in its own process group, so that its children go too. */
class Hogs {
  readonly #children: ChildProcess[] = [];

  start(options: Options): void {
    if (options.hogs === 0) return;
    if (options.hog === "stress-ng") {
      this.#spawn("stress-ng", [
        "--cpu",
        String(options.hogs),
        "--cpu-load",
        String(options.load),
        "--timeout",
        `${HOG_TIMEOUT_S}s`,
        "--quiet",
      ]);
    } else {
      for (let i = 0; i < options.hogs; i++) {
        this.#spawn(process.execPath, ["-e", NODE_HOG, String(options.load)], true);
      }
    }
  }

  #spawn(command: string, args: string[], ipc = false): void {
    const child = spawn(command, args, {
      detached: true,
      stdio: ipc ? ["ignore", "ignore", "inherit", "ipc"] : ["ignore", "ignore", "inherit"],
    });
    child.on("error", (error) => console.error(`test-stress: hog ${command}: ${error.message}`));
    this.#children.push(child);
  }

  /** Synchronous, so that it can run in an exit handler. */
  stop(): void {
    for (const child of this.#children.splice(0)) killGroup(child, "SIGKILL");
  }
}

/** The parts of vitest's JSON report read here. */
interface JsonReport {
  numTotalTests?: number;
  numFailedTests?: number;
  numPassedTests?: number;
  testResults?: Array<{
    name: string;
    status: string;
    message?: string;
    assertionResults?: Array<{
      fullName?: string;
      title?: string;
      status: string;
      failureMessages?: string[] | null;
    }>;
  }>;
}

interface Failure {
  /** file > test name, or file alone when the file itself failed (a hook, an import). */
  test: string;
  message: string;
}

/** What one run's JSON report says. */
interface RunReport {
  failures: Failure[];
  /** Tests that did not run (a skipIf, a busy port 8000): they proved nothing this run. */
  skipped: string[];
  passed: number;
  total: number;
}

interface RunOutcome extends RunReport {
  exitCode: number | null;
  ms: number;
}

const ROOT = resolve(import.meta.dirname, "..");
const OUT_DIR = join(ROOT, "test-results", "stress");

/** The first line of a failure message that says something, for the summary. */
function headline(message: string): string {
  const line = message.split("\n").find((l) => l.trim() !== "") ?? "(no message)";
  return line.trim().slice(0, 200);
}

function readReport(reportPath: string): RunReport {
  let report: JsonReport;
  try {
    report = JSON.parse(readFileSync(reportPath, "utf8")) as JsonReport;
  } catch {
    return { failures: [], skipped: [], passed: 0, total: 0 };
  }
  const failures: Failure[] = [];
  const skipped: string[] = [];
  for (const file of report.testResults ?? []) {
    const rel = file.name.startsWith(ROOT) ? file.name.slice(ROOT.length + 1) : file.name;
    let failedTests = 0;
    for (const test of file.assertionResults ?? []) {
      const name = `${rel} > ${test.fullName ?? test.title ?? "?"}`;
      if (test.status === "passed") continue;
      if (test.status !== "failed") {
        skipped.push(name);
        continue;
      }
      failedTests++;
      failures.push({ test: name, message: headline(test.failureMessages?.join("\n") ?? "") });
    }
    if (file.status === "failed" && failedTests === 0) {
      failures.push({ test: rel, message: headline(file.message ?? "the file failed") });
    }
  }
  return {
    failures,
    skipped,
    passed: report.numPassedTests ?? 0,
    total: report.numTotalTests ?? 0,
  };
}

/** The vitest run under way: its own process group, with the runners its tests start. */
let current: ChildProcess | undefined;

/** Ends a process group (ignoring one already gone). Synchronous, for exit handlers. */
function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    // already gone
  }
}

function runOnce(index: number, options: Options): Promise<RunOutcome> {
  const reportPath = join(OUT_DIR, `run-${index}.json`);
  const logPath = join(OUT_DIR, `run-${index}.log`);
  rmSync(reportPath, { force: true });
  const args = [
    "run",
    "--reporter=dot",
    "--reporter=json",
    `--outputFile.json=${reportPath}`,
    ...(options.repeats > 0 ? [`--repeats=${options.repeats}`] : []),
    ...options.filters,
  ];
  const started = performance.now();
  return new Promise((resolvePromise) => {
    const vitest = join(ROOT, "node_modules", ".bin", "vitest");
    const child = spawn(vitest, args, {
      cwd: ROOT,
      // Its own group, so that stopping it also stops the processes its tests started.
      detached: true,
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, NO_COLOR: "1", FORCE_COLOR: undefined },
    });
    current = child;
    const chunks: Buffer[] = [];
    child.stdout.on("data", (c: Buffer) => chunks.push(c));
    child.stderr.on("data", (c: Buffer) => chunks.push(c));
    child.on("close", (code) => {
      current = undefined;
      const log = Buffer.concat(chunks);
      mkdirSync(OUT_DIR, { recursive: true });
      writeFileSync(logPath, log);
      const report = readReport(reportPath);
      const failures = report.failures;
      if (code !== 0 && failures.length === 0) {
        // An unhandled error, the global teardown, or vitest itself: no test to name.
        const tail = log.toString("utf8").trim().split("\n").slice(-3).join(" | ");
        failures.push({ test: "(vitest run, outside any test)", message: headline(tail) });
      }
      resolvePromise({
        ...report,
        exitCode: code,
        ms: performance.now() - started,
      });
    });
  });
}

function minutes(ms: number): string {
  const s = Math.round(ms / 1000);
  return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`;
}

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  mkdirSync(OUT_DIR, { recursive: true });
  const hogs = new Hogs();
  const cleanUp = () => {
    hogs.stop();
    if (current) killGroup(current, "SIGKILL");
  };
  process.on("exit", cleanUp);
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
    process.on(signal, () => {
      console.error(`\ntest-stress: ${signal}; stopping the hogs and vitest`);
      cleanUp();
      process.exit(128 + constants.signals[signal]);
    });
  }

  const contention =
    options.hogs === 0
      ? "no CPU hog"
      : `${options.hogs} ${options.hog} hog(s) at ${options.load}% on ${availableParallelism()} cores`;
  const filters = options.filters.length > 0 ? options.filters.join(" ") : "the whole suite";
  console.log(`test-stress: ${options.runs} run(s) of ${filters}, ${contention}`);

  const counts = new Map<string, { count: number; messages: Map<string, number> }>();
  const skips = new Map<string, number>();
  let failedRuns = 0;
  let runs = 0;
  for (let i = 1; i <= options.runs; i++) {
    hogs.start(options);
    const outcome = await runOnce(i, options).finally(() => hogs.stop());
    runs++;
    const status = outcome.failures.length === 0 ? "ok" : `${outcome.failures.length} FAILED`;
    const skipped = outcome.skipped.length > 0 ? `, ${outcome.skipped.length} skipped` : "";
    console.log(
      `run ${i}/${options.runs}: ${status} (${outcome.passed}/${outcome.total} passed${skipped}, ${minutes(outcome.ms)}, exit ${outcome.exitCode})`,
    );
    for (const name of outcome.skipped) skips.set(name, (skips.get(name) ?? 0) + 1);
    for (const failure of outcome.failures) {
      console.log(`  ✗ ${failure.test}\n    ${failure.message}`);
      const entry = counts.get(failure.test) ?? { count: 0, messages: new Map() };
      entry.count++;
      entry.messages.set(failure.message, (entry.messages.get(failure.message) ?? 0) + 1);
      counts.set(failure.test, entry);
    }
    if (outcome.failures.length > 0) {
      failedRuns++;
      if (options.bail) {
        console.log("--bail: stopping after the first failed run");
        break;
      }
    }
  }

  console.log(`\ntest-stress: ${failedRuns} of ${runs} run(s) failed (${contention})`);
  if (skips.size > 0) {
    console.log("skipped, so not tested in that many runs:");
    for (const [name, n] of skips) console.log(`  ${n}× ${name}`);
  }
  if (counts.size === 0) {
    console.log("no failures");
    return;
  }
  console.log("failures by test (count, then each distinct message):");
  for (const [test, { count, messages }] of [...counts].sort((a, b) => b[1].count - a[1].count)) {
    console.log(`  ${count}× ${test}`);
    for (const [message, n] of messages) console.log(`      ${n}× ${message}`);
  }
  process.exitCode = 1;
}

await main();
