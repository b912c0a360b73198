/**
 * The ways a user starts the current runner, for benches that compare them: `npm start`,
 * the package's bin (`npx bazaar-runner`, a global install, the image, Railway), node
 * with the runtime flags written out, and plain node without them (the baseline).
 */
import { join } from "node:path";
import { flagName } from "../../bin/runtime-flags.js";
import { entryOf, ROOT, RunnerChild, startFlags } from "./runner-child.ts";

export interface Door {
  name: string;
  start(env: Record<string, string>, dir: string): RunnerChild;
}

const BIN = join(ROOT, "bin", "bazaar-runner.js");
const ENTRY = entryOf(ROOT, true);

/**
 * Node flags by a key: `flags` (the runtime flags), `bare` (none), `semi=N` (the runtime
 * flags with --max-semi-space-size=N), `drop=NAME` (the runtime flags but the one
 * named, e.g. `drop=liftoff-only`) or `node:FLAG+FLAG…` (exactly those); undefined for
 * any other key.
 */
export function flagSetFor(key: string): string[] | undefined {
  if (key === "flags") return startFlags();
  if (key === "bare") return [];
  if (key.startsWith("node:")) return key.slice("node:".length).split("+").filter(Boolean);
  const dropped = /^drop=([a-z-]+)$/.exec(key)?.[1];
  if (dropped !== undefined) {
    const flags = startFlags().filter((f) => flagName(f) !== flagName(`--${dropped}`));
    return flags.length < startFlags().length ? flags : undefined;
  }
  const semi = /^semi=(\d+)$/.exec(key)?.[1];
  if (semi === undefined) return undefined;
  return startFlags().map((f) =>
    f.startsWith("--max-semi-space-size=") ? `--max-semi-space-size=${semi}` : f,
  );
}

/**
 * A door by its key: one of DOORS (`npm`, `bin`, `flags`, `bare`), or node with the
 * flag set of flagSetFor (to weigh one flag, or another set, in memory and CPU).
 */
export function doorFor(key: string): Door | undefined {
  const door = DOORS[key];
  if (door) return door;
  const flags = flagSetFor(key);
  if (flags === undefined) return undefined;
  return {
    name: `node ${flags.join(" ")} dist/cli/main.js`,
    start: (env, dir) => RunnerChild.node(ENTRY, env, dir, flags),
  };
}

export const DOORS: Record<string, Door> = {
  bare: {
    name: "node dist/cli/main.js (no flags)",
    start: (env, dir) => RunnerChild.node(ENTRY, env, dir),
  },
  flags: {
    name: "node FLAGS dist/cli/main.js",
    start: (env, dir) => RunnerChild.node(ENTRY, env, dir, startFlags()),
  },
  bin: {
    name: "node bin/bazaar-runner.js",
    start: (env, dir) => RunnerChild.node(BIN, env, dir),
  },
  // Its prestart (the build) is skipped: the bench has built dist/ already, and a
  // rebuild between doors would measure different code.
  npm: {
    name: "npm start",
    start: (env, dir) =>
      new RunnerChild("npm", ["--prefix", ROOT, "start", "--ignore-scripts"], env, dir),
  },
};
