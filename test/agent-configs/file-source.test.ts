import { mkdtemp, rename, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createFileConfigSource } from "../../src/agent-configs/file.ts";
import type { ConfigSnapshot, ConfigSource } from "../../src/agent-configs/types.ts";
import { createLogger } from "../../src/logger.ts";
import { createMetrics } from "../../src/metrics.ts";
import { LogCapture } from "../support/log-capture.ts";
import { waitFor } from "../support/wait.ts";

const KNOWN = new Set(["schema_architect", "code_reviewer"]);
const agent = (name: string, extra: Record<string, unknown> = {}) => ({
  name,
  agent_type: "schema_architect",
  base_rate_usd: 0.04,
  capabilities: { schema_design: 0.9 },
  ...extra,
});

describe("AGENTS_FILE config source", () => {
  let dir: string;
  let source: ConfigSource | undefined;
  const logs = new LogCapture();
  const logger = createLogger({ destination: logs, pretty: false });
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "agents-file-"));
  });
  afterEach(async () => {
    await source?.close();
    await rm(dir, { recursive: true, force: true });
  });

  const open = (path: string, metrics = createMetrics({ processMetrics: false })) => {
    source = createFileConfigSource({
      path,
      reloadIntervalMs: 60_000,
      isKnownType: (t) => KNOWN.has(t),
      logger,
      metrics,
      debounceMs: 20,
    });
    return source;
  };

  it("reads a YAML list and skips bad entries with a reason naming the field", async () => {
    const path = join(dir, "agents.yaml");
    await writeFile(
      path,
      [
        "- name: Alpha",
        "  agent_type: schema_architect",
        "  base_rate_usd: 0.04",
        "  capabilities: {schema_design: 0.9}",
        "  keywords: {graphql: 0.9}",
        "- name: Broken",
        "  agent_type: schema_architect",
        "  base_rate_usd: cheap",
        "- name: Stranger",
        "  agent_type: no_such_type",
        "  base_rate_usd: 0.01",
      ].join("\n"),
    );
    const metrics = createMetrics({ processMetrics: false });
    const snapshot = await open(path, metrics).load();
    expect(snapshot.agents.map((a) => [a.key, a.config.name, a.config.keywords])).toEqual([
      ["file:Alpha", "Alpha", { graphql: 0.9 }],
    ]);
    expect(snapshot.issues).toHaveLength(2);
    expect(snapshot.issues[0]!.message).toMatch(/^base_rate_usd: /);
    expect(snapshot.issues[1]!.message).toMatch(
      /agent_type: no executor is registered for "no_such_type"/,
    );
    expect(logs.text()).toMatch(/agent config skipped/);
    expect(
      await metrics.registry.getSingleMetricAsString("bazaar_runner_config_errors_total"),
    ).toMatch(/source="file"} 2/);
  });

  it("reads JSON with an agents key, and rejects duplicate names", async () => {
    const path = join(dir, "agents.json");
    await writeFile(
      path,
      JSON.stringify({
        agents: [agent("A"), agent("A"), agent("B", { agent_type: "code_reviewer" })],
      }),
    );
    const snapshot = await open(path).load();
    expect(snapshot.agents.map((a) => a.config.name)).toEqual(["A", "B"]);
    expect(snapshot.issues[0]!.message).toMatch(/same name/);
  });

  it("fails to load a file that is not a list of agents", async () => {
    const path = join(dir, "agents.json");
    await writeFile(path, JSON.stringify({ nope: true }));
    await expect(open(path).load()).rejects.toThrow(/expected a list of agents/);
  });

  it("applies edits (including replace-by-rename, as editors do) and keeps the last good set on a broken edit", async () => {
    const path = join(dir, "agents.json");
    await writeFile(path, JSON.stringify([agent("A")]));
    const src = open(path);
    await src.load();
    const seen: ConfigSnapshot[] = [];
    src.watch((s) => seen.push(s));

    await writeFile(path, JSON.stringify([agent("A", { base_rate_usd: 0.07 }), agent("B")]));
    await waitFor("the edit", () => seen.at(-1)?.agents.length === 2);
    expect(seen.at(-1)!.agents[0]!.config.base_rate_usd).toBe(0.07);

    await writeFile(path, "{ this is not json");
    await waitFor(
      "the broken edit to be noticed",
      () => src.status().reload?.ok === false && src.status().reload?.error !== null,
    );
    const count = seen.length;

    const tmp = join(dir, "agents.json.tmp");
    await writeFile(tmp, JSON.stringify([agent("B")]));
    await rename(tmp, path);
    await waitFor("the rename", () => seen.length > count && seen.at(-1)!.agents.length === 1);
    expect(seen.at(-1)!.agents[0]!.config.name).toBe("B");
  });
});
