import { execFile } from "node:child_process";
import { promisify } from "node:util";

/**
 * Backtracking inside regular expressions, counted by V8 itself. A child Node runs a
 * script with a budget of backtracks per execution: an expression that exceeds it is
 * handed to V8's linear engine, and V8 prints its source. The count is exact, so the
 * check is the same on every run however busy the machine. V8's linear engine does not
 * take every expression (backreferences, the i and u flags): those have no budget, and
 * V8 prints them as not supported, so a test can name them.
 */

export interface RegexBudgetReport {
  /** Sources of the expressions that backtracked past the budget in one execution. */
  overBudget: string[];
  /** Sources of the expressions V8 could not put under a budget. */
  unchecked: string[];
}

// V8 prints an internalized source after `#` and any other in quotes.
const OVER_BUDGET =
  /^Experimental execution \(oneshot\) of regexp \S+ <String\[\d+\]: (#.*|".*")>$/;
const UNCHECKED = /^Pattern not supported by experimental engine: \S+ <String\[\d+\]: (#.*|".*")>$/;

/** The source as written: without V8's `#` or quotes, and its backslashes no longer doubled. */
const sourceOf = (printed: string) =>
  (printed.startsWith("#") ? printed.slice(1) : printed.slice(1, -1)).replaceAll("\\\\", "\\");

export function parseRegexBudgetTrace(trace: string): RegexBudgetReport {
  const overBudget = new Set<string>();
  const unchecked = new Set<string>();
  for (const line of trace.split("\n")) {
    const over = OVER_BUDGET.exec(line);
    if (over) overBudget.add(sourceOf(over[1] as string));
    const not = UNCHECKED.exec(line);
    if (not) unchecked.add(sourceOf(not[1] as string));
  }
  return { overBudget: [...overBudget], unchecked: [...unchecked] };
}

/** Runs `script` (with `args`) in a child Node whose expressions may backtrack `budget` times per execution. */
export async function regexBudgetOf(
  script: string,
  args: string[],
  budget: number,
): Promise<RegexBudgetReport> {
  const { stdout } = await promisify(execFile)(
    process.execPath,
    [
      "--enable-experimental-regexp-engine-on-excessive-backtracks",
      `--regexp-backtracks-before-fallback=${budget}`,
      "--trace-experimental-regexp-engine",
      script,
      ...args,
    ],
    { maxBuffer: 64 * 1024 * 1024 },
  );
  return parseRegexBudgetTrace(stdout);
}
