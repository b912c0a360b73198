import { readlinkSync } from "node:fs";
import { setPriority } from "node:os";
import { parentPort, workerData } from "node:worker_threads";
import { TOOLS, type ToolName } from "./catalog.ts";

// On Linux a thread has its own nice value: lowering this one's priority keeps the
// runner's event loop (heartbeats, polls, bids) first in line for the CPU while the
// analysis runs. Elsewhere this is skipped.
try {
  const tid = Number(readlinkSync("/proc/thread-self").split("/").pop());
  if (Number.isInteger(tid) && tid > 0) setPriority(tid, 10);
} catch {
  // no /proc, or not allowed: run at the normal priority
}

/** The worker thread's side of run-tool.ts: runs one tool on its input and posts the outcome. */
const { tool, input } = workerData as { tool: ToolName; input: never };
try {
  const run = TOOLS[tool] as (input: never) => unknown;
  const value = await run(input);
  parentPort?.postMessage({ ok: true, value });
} catch (error) {
  parentPort?.postMessage({
    ok: false,
    error: error instanceof Error ? error.message : String(error),
  });
}
