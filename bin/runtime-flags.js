// The node flags the runner runs with, whichever way it is started: the one list that
// the bin applies (bin/relaunch.js), that `npm start`, the Dockerfile and railway.json
// reach through the bin, and that test/deploy-config.test.ts holds them all to. Each is
// measured in bench/RESULTS.md: the first two keep the heap small and growing in small
// steps; --liftoff-only compiles undici's WebAssembly HTTP parser once, with the
// baseline compiler; --no-concurrent-recompilation optimizes on the main thread, not on
// a helper thread whose allocator keeps what it freed; --no-memory-reducer stops the
// full collections V8 starts when the process looks idle, which a runner pacing its
// heartbeats always does (with --optimize-for-size they cost about 30 µs a call).

/** @type {readonly string[]} */
export const RUNTIME_FLAGS = Object.freeze([
  "--max-semi-space-size=2",
  "--optimize-for-size",
  "--liftoff-only",
  "--no-concurrent-recompilation",
  "--no-memory-reducer",
]);

/**
 * A flag's name, so that `--max_semi_space_size=8` or `--concurrent-recompilation`
 * count as the same setting as ours (the user's choice then stands).
 * @param {string} flag
 */
export function flagName(flag) {
  return flag.replace(/^--/, "").replace(/=.*$/, "").replaceAll("_", "-").replace(/^no-/, "");
}

/**
 * The runtime flags that neither the command line nor NODE_OPTIONS already set.
 * @param {readonly string[]} execArgv node's own arguments (process.execArgv)
 * @param {string} [nodeOptions] the NODE_OPTIONS variable
 * @returns {string[]}
 */
export function missingFlags(execArgv, nodeOptions = "") {
  const given = new Set(
    [...execArgv, ...nodeOptions.split(/\s+/)].filter((a) => a.startsWith("--")).map(flagName),
  );
  return RUNTIME_FLAGS.filter((flag) => !given.has(flagName(flag)));
}
