/**
 * The ways a user starts the current runner, for benches that compare them: `npm start`,
 * the package's bin (`npx bazaar-runner`, a global install, the image, Railway), node
 * with the runtime flags written out, and plain node without them (the baseline).
 */
import { join } from "node:path";
import { entryOf, ROOT, RunnerChild, startFlags } from "./runner-child.ts";

export interface Door {
  name: string;
  start(env: Record<string, string>, dir: string): RunnerChild;
}

const BIN = join(ROOT, "bin", "bazaar-runner.js");
const ENTRY = entryOf(ROOT, true);

/**
 * A door by its key: one of DOORS, or `semi=N`, node with the runtime flags but
 * --max-semi-space-size=N (to weigh the young generation's size in memory and CPU).
 */
export function doorFor(key: string): Door | undefined {
  const semi = /^semi=(\d+)$/.exec(key)?.[1];
  if (semi === undefined) return DOORS[key];
  const flags = startFlags().map((f) =>
    f.startsWith("--max-semi-space-size=") ? `--max-semi-space-size=${semi}` : f,
  );
  return {
    name: `node FLAGS with --max-semi-space-size=${semi} dist/cli/main.js`,
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
