// Starts node again with the runtime flags (bin/runtime-flags.js) when they are missing,
// so `npx bazaar-runner`, a global install, `node bin/bazaar-runner.js` and `npm start`
// all run with them. V8 reads these flags only at start-up, and NODE_OPTIONS refuses
// all but --max-semi-space-size, hence a new node.
import { spawn } from "node:child_process";
import { missingFlags } from "./runtime-flags.js";

/** Set in the relaunched process's environment (and removed there), so it happens once. */
export const RELAUNCHED = "BAZAAR_RUNNER_RELAUNCHED";

/** What a relaunch without execve forwards to its child. */
const FORWARDED = /** @type {const} */ (["SIGINT", "SIGTERM", "SIGHUP"]);

/**
 * Returns false when this process already runs with the flags (go on and run the CLI).
 * Otherwise it becomes node with the flags through execve(2): the same process (pid,
 * signals, exit code) and no second one left in memory. Where execve is missing
 * (Windows) it runs node as a child, ends as the child ends, and returns true (run
 * nothing more here).
 * @param {string} script this script's path (argv[1] of the new node)
 * @returns {boolean}
 */
export function relaunchWithRuntimeFlags(script) {
  if (process.env[RELAUNCHED] !== undefined) {
    // Not inherited by whatever the runner itself starts.
    delete process.env[RELAUNCHED];
    return false;
  }
  const missing = missingFlags(process.execArgv, process.env.NODE_OPTIONS);
  if (missing.length === 0) return false;
  const args = [...process.execArgv, ...missing, script, ...process.argv.slice(2)];
  const env = { ...process.env, [RELAUNCHED]: "1" };
  if (typeof process.execve === "function") {
    process.execve(process.execPath, [process.execPath, ...args], env);
  }
  runChild(args, env);
  return true;
}

/**
 * Node in a child process: this process exits with its code, or dies of its signal.
 * On POSIX the child has a process group of its own and SIGINT, SIGTERM and SIGHUP sent
 * here go on to it, once (a terminal's Ctrl-C, sent to the whole group, would otherwise
 * reach it twice, and a second signal means "exit now"). On Windows the console sends
 * Ctrl-C to the child itself, and kill() there would end it at once, so nothing is
 * forwarded: this process only waits.
 * @param {string[]} args
 * @param {NodeJS.ProcessEnv} env
 */
function runChild(args, env) {
  const posix = process.platform !== "win32";
  const child = spawn(process.execPath, args, { env, stdio: "inherit", detached: posix });
  /** @param {NodeJS.Signals} signal */
  const forward = (signal) => {
    if (posix) child.kill(signal);
  };
  for (const signal of FORWARDED) process.on(signal, forward);
  child.on("error", (error) => {
    process.stderr.write(`bazaar-runner: could not start node: ${error.message}\n`);
    process.exit(1);
  });
  child.on("exit", (code, signal) => {
    for (const s of FORWARDED) process.off(s, forward);
    if (signal !== null) process.kill(process.pid, signal);
    else process.exit(code ?? 1);
  });
}
