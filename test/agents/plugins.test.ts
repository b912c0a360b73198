import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { loadPlugins, PluginLoadError } from "../../src/agents/plugins.ts";
import { createExecutor, hasExecutor } from "../../src/agents/registry.ts";
import { silentLogger } from "../../src/logger.ts";
import { makeAgent, makeContext, makeJob } from "./helpers.ts";

const repoRoot = resolve(import.meta.dirname, "../..");
const logger = silentLogger();
const tempDirs: string[] = [];

afterAll(async () => {
  for (const dir of tempDirs) await rm(dir, { recursive: true, force: true });
});

describe("loadPlugins", () => {
  it("loads the example plugin, which registers echo_agent", async () => {
    await loadPlugins(["./examples/plugins/echo-agent.ts"], { cwd: repoRoot, logger });
    expect(hasExecutor("echo_agent")).toBe(true);

    const agent = makeAgent({ name: "Echo", agent_type: "echo_agent", base_rate_usd: 0.02 });
    const executor = createExecutor(agent);
    const ctx = makeContext(agent);
    const job = makeJob({ title: "Please echo this", budget_usd: 1 });
    expect(await executor.evaluateJob(job, ctx)).toMatchObject({
      canComplete: true,
      bidAmountUsd: 0.02,
    });
    const result = await executor.executeTask(job, ctx);
    expect(result.success).toBe(true);
    expect(result.output).toContain("<customer_task>");
    expect(result.output).toContain("Please echo this");
  });

  it("loads the tools example, whose agent runs the anomaly tools like a built-in one", async () => {
    await loadPlugins(["./examples/plugins/kpi-watch-agent.ts"], { cwd: repoRoot, logger });
    const agent = makeAgent({ name: "Kpi", agent_type: "kpi_watch", base_rate_usd: 0.02 });
    const executor = createExecutor(agent);
    const ctx = makeContext(agent);
    const job = makeJob({
      title: "Weekly KPI check",
      description: "KPI values:\n\n10, 11, 10, 12, 11, 10, 11, 95, 10, 11, 12, 10",
      budget_usd: 1,
    });
    expect(await executor.evaluateJob(job, ctx)).toMatchObject({
      canComplete: true,
      confidence: 0.9,
    });
    const result = await executor.executeTask(job, ctx);
    expect(result.success).toBe(true);
    expect(result.output).toMatch(
      /\| values in block-1\.txt \| 7 \| 95 \| [\d.]+ … [\d.]+ \| high \|/,
    );
  });

  it("is a no-op for empty specifiers and a repeated module", async () => {
    await loadPlugins(["", "  ", "./examples/plugins/echo-agent.ts"], { cwd: repoRoot, logger });
    expect(hasExecutor("echo_agent")).toBe(true);
  });

  it("names a missing file", async () => {
    const attempt = loadPlugins(["./plugins/missing-agent.ts"], { cwd: repoRoot, logger });
    await expect(attempt).rejects.toThrow(PluginLoadError);
    await expect(
      loadPlugins(["./plugins/missing-agent.ts"], { cwd: repoRoot, logger }),
    ).rejects.toThrow(/cannot load plugin "\.\/plugins\/missing-agent\.ts": no such file/);
  });

  it("names a missing package", async () => {
    await expect(
      loadPlugins(["bazaar-no-such-plugin-package"], { cwd: repoRoot, logger }),
    ).rejects.toThrow(/cannot load plugin "bazaar-no-such-plugin-package"/);
  });

  it("calls a module's register(registry), which registers into this runner's registry", async () => {
    const dir = await mkdtemp(join(tmpdir(), "bazaar-plugin-"));
    tempDirs.push(dir);
    // No import of bazaar-runner at all: the registry comes in as the argument.
    await writeFile(
      join(dir, "registering.mjs"),
      [
        "class Registered {",
        '  static systemPrompt = "You register through the argument.";',
        "  evaluateJob() {}",
        "  executeTask() {}",
        "}",
        "export let calls = 0;",
        "export function register(registry) {",
        "  calls += 1;",
        '  registry.registerExecutor("registered_by_argument", Registered);',
        "}",
        "",
      ].join("\n"),
    );
    expect(hasExecutor("registered_by_argument")).toBe(false);
    await loadPlugins(["./registering.mjs"], { cwd: dir, logger });
    expect(hasExecutor("registered_by_argument")).toBe(true);
    const module = await import(pathToFileURL(join(dir, "registering.mjs")).href);
    expect(module.calls).toBe(1);
  });

  it("names a module whose register throws or is not a function", async () => {
    const dir = await mkdtemp(join(tmpdir(), "bazaar-plugin-"));
    tempDirs.push(dir);
    await writeFile(
      join(dir, "refusing.mjs"),
      'export function register() { throw new Error("no types today"); }\n',
    );
    await writeFile(join(dir, "odd.mjs"), "export const register = 42;\n");
    await expect(loadPlugins(["./refusing.mjs"], { cwd: dir, logger })).rejects.toThrow(
      /cannot load plugin "\.\/refusing\.mjs": no types today/,
    );
    await expect(loadPlugins(["./odd.mjs"], { cwd: dir, logger })).rejects.toThrow(
      /cannot load plugin "\.\/odd\.mjs": its export "register" is a number, not a function/,
    );
  });

  it("names a module that throws while loading, with its reason", async () => {
    const dir = await mkdtemp(join(tmpdir(), "bazaar-plugin-"));
    tempDirs.push(dir);
    await writeFile(join(dir, "broken.mjs"), 'throw new Error("plugin exploded");\n');
    await expect(loadPlugins(["./broken.mjs"], { cwd: dir, logger })).rejects.toThrow(
      /cannot load plugin "\.\/broken\.mjs": plugin exploded/,
    );
  });
});
