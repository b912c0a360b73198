import { Worker } from "node:worker_threads";
import { inChildSpan } from "../../tracing/tracing.ts";
import type { ToolInput, ToolName, ToolOutput } from "./catalog.ts";

/**
 * Runs a tool in a worker thread with a time and memory budget, so that a long
 * analysis never holds up the event loop (heartbeats, polls, bids go on). A tool that
 * fails, runs out of time or of memory gives `{ ok: false, error }`: the caller turns
 * it into a note in the deliverable, never a failed job.
 */

export interface ToolBudget {
  /** Longest the tool may run (default 60 s). */
  timeoutMs: number;
  /** Heap limit of the worker (default 512 MB). */
  maxMemoryMb: number;
}

export const DEFAULT_TOOL_BUDGET: ToolBudget = { timeoutMs: 60_000, maxMemoryMb: 512 };

export type ToolOutcome<T> =
  | { ok: true; value: T; ms: number }
  | { ok: false; error: string; ms: number };

// Beside this module: the .ts source under test, the compiled .js under `npm start` (dist/).
const ENTRY = new URL(
  import.meta.url.endsWith(".ts") ? "./worker-entry.ts" : "./worker-entry.js",
  import.meta.url,
);

export function runTool<N extends ToolName>(
  tool: N,
  input: ToolInput<N>,
  options: { signal?: AbortSignal; budget?: Partial<ToolBudget> } = {},
): Promise<ToolOutcome<ToolOutput<N>>> {
  const budget = { ...DEFAULT_TOOL_BUDGET, ...options.budget };
  // Inside a job's trace (tracing on), the run is a span with its budget and what it found.
  return inChildSpan(
    `bazaar.tool ${tool}`,
    {
      "bazaar.tool.name": tool,
      "bazaar.tool.budget.timeout_ms": budget.timeoutMs,
      "bazaar.tool.budget.max_memory_mb": budget.maxMemoryMb,
    },
    () => runInWorker(tool, input, options.signal, budget),
    describeOutcome,
  );
}

/** A tool run's outcome as span attributes: ok or its error, time, and how much it found. */
function describeOutcome(outcome: ToolOutcome<unknown>): Record<string, string | number | boolean> {
  if (!outcome.ok)
    return {
      "bazaar.tool.ok": false,
      "bazaar.tool.ms": outcome.ms,
      "bazaar.tool.error": outcome.error,
    };
  const value = outcome.value as Record<string, unknown> | null;
  const found =
    value && typeof value === "object" ? Object.values(value).find(Array.isArray) : undefined;
  return {
    "bazaar.tool.ok": true,
    "bazaar.tool.ms": outcome.ms,
    ...(found ? { "bazaar.tool.findings": found.length } : {}),
  };
}

function runInWorker<N extends ToolName>(
  tool: N,
  input: ToolInput<N>,
  signal: AbortSignal | undefined,
  budget: ToolBudget,
): Promise<ToolOutcome<ToolOutput<N>>> {
  const options = { signal };
  const started = performance.now();
  const ms = () => Math.round(performance.now() - started);
  return new Promise((resolve, reject) => {
    if (options.signal?.aborted) {
      reject(options.signal.reason);
      return;
    }
    const worker = new Worker(ENTRY, {
      workerData: { tool, input },
      resourceLimits: {
        maxOldGenerationSizeMb: budget.maxMemoryMb,
        maxYoungGenerationSizeMb: Math.min(64, Math.max(8, budget.maxMemoryMb / 8)),
      },
      // The tools print nothing; keep anything a library prints off the runner's stdout.
      stdout: true,
      stderr: true,
    });
    let settled = false;
    const finish = (outcome: ToolOutcome<ToolOutput<N>> | { abort: unknown }) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      options.signal?.removeEventListener("abort", onAbort);
      void worker.terminate();
      if ("abort" in outcome) reject(outcome.abort);
      else resolve(outcome);
    };
    const timer = setTimeout(
      () =>
        finish({
          ok: false,
          error: `${tool} ran out of time (${budget.timeoutMs / 1000} s)`,
          ms: ms(),
        }),
      budget.timeoutMs,
    );
    const onAbort = () => finish({ abort: options.signal?.reason });
    options.signal?.addEventListener("abort", onAbort, { once: true });
    worker.stdout.resume();
    worker.stderr.resume();
    worker.on("message", (message: { ok: boolean; value?: ToolOutput<N>; error?: string }) => {
      finish(
        message.ok
          ? { ok: true, value: message.value as ToolOutput<N>, ms: ms() }
          : { ok: false, error: message.error ?? "failed", ms: ms() },
      );
    });
    worker.on("error", (error: Error & { code?: string }) => {
      const reason =
        error.code === "ERR_WORKER_OUT_OF_MEMORY"
          ? `ran out of memory (${budget.maxMemoryMb} MB)`
          : error.message;
      finish({ ok: false, error: `${tool}: ${reason}`, ms: ms() });
    });
    worker.on("exit", (code) =>
      finish({ ok: false, error: `${tool}: worker exited (${code})`, ms: ms() }),
    );
  });
}
