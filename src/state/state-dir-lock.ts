import { linkSync, mkdirSync, readFileSync, unlinkSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { BazaarRunnerError } from "../errors.ts";

/** Another live process holds the state directory. The message is one line. */
export class StateDirLockedError extends BazaarRunnerError {
  override name = "StateDirLockedError";
  readonly lockPath: string;
  readonly pid: number;

  constructor(lockPath: string, pid: number) {
    super(
      "BR_ERR_STATE_DIR_LOCKED",
      `RUNNER_STATE_DIR is in use: ${lockPath} is held by pid ${pid}; run one runner per state directory, or share agents between replicas through MongoDB`,
    );
    this.lockPath = lockPath;
    this.pid = pid;
  }
}

export interface StateDirLock {
  readonly path: string;
  release(): void;
}

/** Whether a process with this pid exists (EPERM: it does, under another user). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

function holderOf(path: string): number | undefined {
  try {
    const pid = Number.parseInt(readFileSync(path, "utf8").trim(), 10);
    return Number.isSafeInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Takes `<stateDir>/runner.lock` (holding our pid; hard-linked into place from a file
 * already written, so the lock never exists without its pid). Without MongoDB
 * two runners on one state directory would run the same agents from one ledger file, so
 * a second one refuses to start. A lock whose pid is gone (kill -9, power cut) is stale
 * and taken over.
 */
export function lockStateDir(stateDir: string): StateDirLock {
  mkdirSync(stateDir, { recursive: true });
  const path = resolve(join(stateDir, "runner.lock"));
  const draft = `${path}.${process.pid}`;
  writeFileSync(draft, `${process.pid}\n`);
  try {
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        linkSync(draft, path);
        return {
          path,
          release() {
            if (holderOf(path) === process.pid) unlinkSync(path);
          },
        };
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
      }
      const pid = holderOf(path);
      if (pid !== undefined && alive(pid)) throw new StateDirLockedError(path, pid);
      // Stale: its process is gone. Removed only if it still names that pid.
      if (holderOf(path) === pid) {
        try {
          unlinkSync(path);
        } catch {
          // another starter removed it first
        }
      }
    }
    throw new StateDirLockedError(path, holderOf(path) ?? 0);
  } finally {
    unlinkSync(draft);
  }
}
