import { execFile } from "node:child_process";
import { resolve } from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { extractFromText } from "../../../src/agents/tools/inputs.ts";
import { runTool } from "../../../src/agents/tools/run-tool.ts";
import { ANOMALY_FIXTURES } from "./fixtures.ts";

describe("runTool: tools in a worker thread with a budget", () => {
  it("runs a tool off the main thread and returns its result", async () => {
    const { blocks } = extractFromText(ANOMALY_FIXTURES[0]!.description);
    const outcome = await runTool("anomalies", { blocks });
    expect(outcome.ok).toBe(true);
    if (!outcome.ok) return;
    expect(outcome.value.analyses[0]?.anomalies.map((a) => a.at)).toEqual(
      ANOMALY_FIXTURES[0]!.planted,
    );
  });

  it("a tool over its time budget is an error to note, not a throw", async () => {
    const { blocks } = extractFromText("```js\neval(x);\n```");
    const outcome = await runTool("codeReview", { blocks }, { budget: { timeoutMs: 1 } });
    expect(outcome).toMatchObject({ ok: false, error: "codeReview ran out of time (0.001 s)" });
  });

  it("a tool over its memory budget is an error to note, not a crash", async () => {
    const values = Array.from({ length: 200_000 }, (_, i) => (i % 97) + Math.sin(i)).join("\n");
    const blocks = [{ source: "file big.txt", name: "big.txt", language: "numbers", text: values }];
    const outcome = await runTool("anomalies", { blocks }, { budget: { maxMemoryMb: 4 } });
    expect(outcome.ok).toBe(false);
    if (!outcome.ok)
      expect(outcome.error).toMatch(/anomalies: (ran out of memory \(4 MB\)|worker exited)/);
  });

  it("stops the worker when the job is cancelled", async () => {
    const controller = new AbortController();
    const { blocks } = extractFromText("```ts\nconst a = 1;\n```");
    const running = runTool("codeReview", { blocks }, { signal: controller.signal });
    controller.abort(new Error("job deadline"));
    await expect(running).rejects.toThrow("job deadline");
  });

  it("the runner's main thread never loads the linters or the parsers (only the worker does)", async () => {
    const root = resolve(import.meta.dirname, "../../..");
    const script = `
      import { registerHooks } from "node:module";
      const heavy = [];
      registerHooks({ resolve(spec, ctx, next) {
        const r = next(spec, ctx);
        if (/node_modules\\/(eslint|typescript-eslint|@secretlint|@readme|node-sql-parser|graphql|ajv)\\//.test(r.url)) heavy.push(r.url);
        return r;
      } });
      await import("./src/agents/index.ts");
      await import("./src/cli/start.ts");
      console.log(JSON.stringify(heavy));`;
    const { stdout } = await promisify(execFile)(
      process.execPath,
      ["--input-type=module", "--eval", script],
      {
        cwd: root,
      },
    );
    expect(JSON.parse(stdout.trim().split("\n").at(-1)!)).toEqual([]);
  }, 60_000);
});
