import { Session } from "node:inspector";
import { setFlagsFromString } from "node:v8";

/**
 * Steps of JavaScript, counted by V8's precise block coverage: how many times each
 * block of each function ran. The count is exact (see the flags below) and the same on
 * every run and every machine, however busy, unlike any timing. A built-in function (a
 * regular expression, a string search) runs as one step here; built-in-reads.ts and
 * regex-budget.ts count what it does.
 */

type CoverageRange = { count: number };
type ScriptCoverage = { url: string; functions: { ranges: CoverageRange[] }[] };

// V8's optimizing tiers compile on other threads, when they get to it, and their code
// counts blocks differently: with them, identical runs differed by up to 5 %. Without
// them (the interpreter and the baseline compiler only) the counts are exact.
setFlagsFromString("--no-opt");
setFlagsFromString("--no-maglev");

const session = new Session();
session.connect();

/** Inspector calls on this thread's own session complete before post returns. */
function post<T>(method: string, params?: object): T {
  let reply: { error: Error | null; result?: T } | undefined;
  session.post(method, params, (error, result) => {
    reply = { error, result: result as T };
  });
  if (!reply) throw new Error(`${method}: the inspector answered asynchronously`);
  if (reply.error) throw reply.error;
  return reply.result as T;
}

post("Profiler.enable");
post("Profiler.startPreciseCoverage", { callCount: true, detailed: true });

/** The counters' own scripts run per built-in call; they are not the code measured. */
const OWN_SCRIPTS = ["js-blocks.ts", "built-in-reads.ts", "growth.ts"].map(
  (name) => new URL(name, import.meta.url).pathname,
);

function blocksSinceLastTake(): number {
  const { result } = post<{ result: ScriptCoverage[] }>("Profiler.takePreciseCoverage");
  let blocks = 0;
  for (const script of result) {
    if (OWN_SCRIPTS.some((own) => script.url.endsWith(own))) continue;
    for (const fn of script.functions) for (const range of fn.ranges) blocks += range.count;
  }
  return blocks;
}

/** The blocks of JavaScript that ran during run() (taking coverage resets V8's counters). */
export function blocksRun(run: () => void): number {
  blocksSinceLastTake();
  run();
  return blocksSinceLastTake();
}
