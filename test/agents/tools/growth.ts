import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";

/**
 * How a function's cost grows with its input, measured against itself in the same
 * process (CPU time): never a deadline. f(small) and f(big) are timed alternately,
 * each repeated until measurable, and the median of their ratios is returned. For an
 * input FACTOR times longer, linear work gives about FACTOR, quadratic work FACTOR²;
 * tests require well under the quadratic figure.
 */

/** How many times longer the big input is than the small one. */
export const FACTOR = 8;
/** A ratio above this is superlinear: 3× the linear figure, 1/2.7 of the quadratic one. */
export const LIMIT = 3 * FACTOR;

const RUNS = 5;
/** Each timing repeats its call until it takes at least this long. */
const MIN_SAMPLE_MS = 0.5;
const MAX_REPEATS = 1 << 14;

// A young-generation collection before each timing, so that neither side pays for
// the other's garbage (a full one would cost more than most timings).
setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as (options: { type: "minor" | "major" }) => void;
const collectGarbage = () => gc({ type: "minor" });

/** CPU time, not wall-clock time: on a busy machine the process waits for a core far longer than it works. */
function cpuMs(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
}

function timeOf(f: () => unknown, repeats: number): number {
  collectGarbage();
  const started = cpuMs();
  for (let i = 0; i < repeats; i++) f();
  return cpuMs() - started;
}

export function growthRatio<T>(f: (input: T) => unknown, small: T, big: T): number {
  const runSmall = () => f(small);
  const runBig = () => f(big);
  // Warm-up, so that neither side pays for compilation.
  runSmall();
  runBig();
  let repeats = 1;
  while (repeats < MAX_REPEATS && timeOf(runSmall, repeats) < MIN_SAMPLE_MS) repeats *= 2;
  const ratios: number[] = [];
  // The median of RUNS, settled as soon as a majority of them is on one side of LIMIT.
  const majority = Math.ceil(RUNS / 2);
  for (let run = 0; run < RUNS; run++) {
    const smallMs = Math.max(timeOf(runSmall, repeats), 1e-3);
    const bigMs = timeOf(runBig, repeats);
    ratios.push(bigMs / smallMs);
    const over = ratios.filter((r) => r >= LIMIT).length;
    if (over >= majority || ratios.length - over >= majority) break;
  }
  ratios.sort((a, b) => a - b);
  return ratios[Math.floor((ratios.length - 1) / 2)] as number;
}
