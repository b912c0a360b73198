import { builtInReads } from "./built-in-reads.ts";
import { blocksRun } from "./js-blocks.ts";

/**
 * How a function's work grows with its input: the blocks of JavaScript it runs (V8's
 * block coverage) plus what the built-ins it calls read (built-in-reads.ts). Both are
 * counts, the same on every run however busy the machine, so a check on them never
 * flakes and never times anything. For an input FACTOR times longer, linear work gives
 * about FACTOR and quadratic work FACTOR²; tests require well under the quadratic
 * figure. Backtracking inside a regular expression is V8's own count
 * (regex-budget.ts).
 */

/** How many times longer the big input is than the small one. */
export const FACTOR = 8;
/** A ratio above this is superlinear: 3× the linear figure, 1/2.7 of the quadratic one. */
export const LIMIT = 3 * FACTOR;

/** The work of one call of f on input. */
export function workOf<T>(f: (input: T) => unknown, input: T): number {
  let reads = 0;
  const blocks = blocksRun(() => {
    reads = builtInReads(() => f(input));
  });
  return blocks + reads;
}

export function growthRatio<T>(f: (input: T) => unknown, small: T, big: T): number {
  // Once each first, so that caches filled on a first call (compiled tables, a job's
  // scan) are filled for both sides alike.
  f(small);
  f(big);
  return workOf(f, big) / Math.max(1, workOf(f, small));
}
