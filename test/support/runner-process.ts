import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { dirname, join } from "node:path";
import { appendPrinted } from "./printed-log.ts";
import { PROCESS_WAIT_MS, waitFor } from "./wait.ts";

const MAIN = join(import.meta.dirname, "../../src/cli/main.ts");

/** `bazaar-runner start` as a child process, its JSON log lines collected. */
export class RunnerProcess {
  readonly child: ChildProcess;
  readonly lines: Array<Record<string, unknown>> = [];
  readonly raw: string[] = [];
  #buffer = "";
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  readonly #group: boolean;

  /**
   * `options.cwd`: where it runs (a temp dir keeps a developer's `.env` out).
   * `options.shell`: run this command line with /bin/sh instead (`npm start`, a deploy
   * config's start command) in its own process group, which signals reach as a
   * terminal's Ctrl-C does; `args` are then ignored. Node 24 comes first on its PATH.
   */
  constructor(
    env: Record<string, string>,
    args: string[] = ["start"],
    options: { cwd?: string; shell?: string } = {},
  ) {
    this.#group = options.shell !== undefined;
    const fullEnv = { PATH: process.env.PATH ?? "", LOG_LEVEL: "debug", ...env };
    this.child =
      options.shell === undefined
        ? spawn(process.execPath, [MAIN, ...args], {
            cwd: options.cwd,
            env: fullEnv,
            stdio: ["ignore", "pipe", "pipe"],
          })
        : spawn("/bin/sh", ["-c", options.shell], {
            cwd: options.cwd,
            env: { ...fullEnv, PATH: `${dirname(process.execPath)}:${fullEnv.PATH}` },
            stdio: ["ignore", "pipe", "pipe"],
            detached: true,
          });
    const collect = (chunk: Buffer) => {
      const text = chunk.toString("utf8");
      // Also to the run's printed log, which the global teardown checks for secrets.
      appendPrinted(text);
      this.#buffer += text;
      const parts = this.#buffer.split("\n");
      this.#buffer = parts.pop() ?? "";
      for (const line of parts) {
        if (!line.trim()) continue;
        this.raw.push(line);
        try {
          this.lines.push(JSON.parse(line) as Record<string, unknown>);
        } catch {
          // not a log line (a warning from node itself)
        }
      }
    };
    this.child.stdout!.on("data", collect);
    this.child.stderr!.on("data", collect);
    this.exit = once(this.child, "exit").then(([code, signal]) => ({
      code: code as number | null,
      signal: signal as NodeJS.Signals | null,
    }));
  }

  /** Waits for a log line matching `predicate`. */
  waitForLog(
    what: string,
    predicate: (line: Record<string, unknown>) => boolean,
    timeoutMs = PROCESS_WAIT_MS,
  ): Promise<Record<string, unknown>> {
    return waitFor(what, () => this.lines.find(predicate), { timeoutMs });
  }

  count(predicate: (line: Record<string, unknown>) => boolean): number {
    return this.lines.filter(predicate).length;
  }

  /** Sends `signal` to the process (to its whole group when run through a shell). */
  signal(signal: NodeJS.Signals): void {
    const pid = this.child.pid;
    if (this.#group && pid !== undefined) {
      try {
        process.kill(-pid, signal);
      } catch {
        // the group is gone already
      }
    } else this.child.kill(signal);
  }

  async kill9(): Promise<void> {
    this.signal("SIGKILL");
    await this.exit;
  }

  async terminate(): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    this.signal("SIGTERM");
    return this.exit;
  }

  /** Ctrl-C in the terminal that runs it. */
  async interrupt(): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    this.signal("SIGINT");
    return this.exit;
  }
}
