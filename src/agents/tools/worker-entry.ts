import { parentPort, workerData } from "node:worker_threads";
import { TOOLS, type ToolName } from "./catalog.ts";

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
