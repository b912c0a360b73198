/**
 * "The previous version" for benches: the runner as it was before issue 12, extracted
 * from git into a temporary directory (sharing this checkout's node_modules), so a bench
 * can run it beside the current code in the same process or on the same machine.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

/** The commit this work branched from; override with BENCH_BASELINE_REF. */
export const DEFAULT_BASELINE_REF = "ef099c1";

export interface PreviousVersion {
  ref: string;
  /** The extracted tree's root. */
  dir: string;
  remove(): void;
}

export function checkoutPrevious(ref = process.env.BENCH_BASELINE_REF ?? DEFAULT_BASELINE_REF) {
  const root = resolve(import.meta.dirname, "..", "..");
  const dir = mkdtempSync(join(tmpdir(), "bazaar-runner-previous-"));
  const archive = execFileSync("git", ["-C", root, "archive", "--format=tar", ref], {
    maxBuffer: 256 * 1024 * 1024,
  });
  execFileSync("tar", ["-x", "-C", dir], { input: archive });
  symlinkSync(join(root, "node_modules"), join(dir, "node_modules"), "dir");
  const previous: PreviousVersion = {
    ref,
    dir,
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
  return previous;
}
