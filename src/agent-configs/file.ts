import { type FSWatcher, watch } from "node:fs";
import { readFile } from "node:fs/promises";
import { basename, dirname, extname, resolve } from "node:path";
import { BazaarRunnerError } from "../errors.ts";
import type { Logger } from "../logger.ts";
import type { Metrics } from "../metrics.ts";
import { errorMessage } from "../secrets.ts";
import { buildSnapshot, SnapshotGate } from "./snapshot.ts";
import type { ConfigSnapshot, ConfigSource } from "./types.ts";

export interface FileSourceOptions {
  path: string;
  reloadIntervalMs: number;
  isKnownType: (agentType: string) => boolean;
  logger: Logger;
  metrics?: Metrics;
  /** Coalesces the bursts of events one editor save makes. */
  debounceMs?: number;
}

/**
 * Agents from AGENTS_FILE (JSON or YAML: a list of agent documents, or `{agents: [...]}`),
 * watched for edits and reloaded periodically. An unreadable edit keeps the last good set.
 */
export function createFileConfigSource(options: FileSourceOptions): ConfigSource {
  const path = resolve(options.path);
  const reported = new Set<string>();
  let watcher: FSWatcher | undefined;
  let timer: NodeJS.Timeout | undefined;
  let debounce: NodeJS.Timeout | undefined;
  const gate = new SnapshotGate({
    source: "file",
    logger: options.logger,
    metrics: options.metrics,
  });
  let closed = false;

  async function read(): Promise<ConfigSnapshot> {
    const text = await readFile(path, "utf8");
    const ext = extname(path).toLowerCase();
    // The YAML parser is loaded only for a YAML file.
    const data: unknown = ext === ".json" ? JSON.parse(text) : (await import("yaml")).parse(text);
    const list = Array.isArray(data)
      ? data
      : data && typeof data === "object" && Array.isArray((data as { agents?: unknown }).agents)
        ? (data as { agents: unknown[] }).agents
        : undefined;
    if (!list)
      throw new BazaarRunnerError(
        "BR_ERR_AGENT_CONFIG",
        `${path}: expected a list of agents, or an object with an "agents" list`,
      );
    const entries = list.map((doc, index) => {
      const name = doc && typeof doc === "object" ? (doc as { name?: unknown }).name : undefined;
      const ref =
        typeof name === "string" && name
          ? `${basename(path)}[${index}] (${name})`
          : `${basename(path)}[${index}]`;
      return { key: `file:${typeof name === "string" ? name : index}`, ref, doc };
    });
    return buildSnapshot(entries, {
      source: "file",
      isKnownType: options.isKnownType,
      logger: options.logger,
      metrics: options.metrics,
      reported,
    });
  }

  async function reload(
    onChange: (snapshot: ConfigSnapshot) => void,
    reason: string,
  ): Promise<void> {
    if (closed) return;
    try {
      const snapshot = await read();
      gate.offer(snapshot, onChange, reason);
    } catch (error) {
      gate.failed(error);
      options.logger.warn(
        { source: "file", problem: errorMessage(error) },
        "agents file unreadable; keeping the last good configs",
      );
    }
  }

  return {
    kind: "file",
    async load() {
      const snapshot = await read();
      gate.prime(snapshot);
      return snapshot;
    },
    watch(onChange) {
      const schedule = (reason: string) => {
        clearTimeout(debounce);
        debounce = setTimeout(() => void reload(onChange, reason), options.debounceMs ?? 150);
      };
      // Watch the directory: editors replace the file, which ends a watch on the file itself.
      try {
        watcher = watch(dirname(path), (_event, filename) => {
          if (!filename || filename === basename(path)) schedule("file changed");
        });
        watcher.on("error", (error) =>
          options.logger.warn(
            { problem: errorMessage(error) },
            "agents file watch failed; periodic reload continues",
          ),
        );
      } catch (error) {
        options.logger.warn(
          { problem: errorMessage(error) },
          "cannot watch the agents file; periodic reload only",
        );
      }
      timer = setInterval(() => void reload(onChange, "periodic reload"), options.reloadIntervalMs);
      timer.unref();
    },
    status: () => ({ changeStream: "n/a", reload: gate.status() }),
    async close() {
      closed = true;
      watcher?.close();
      clearInterval(timer);
      clearTimeout(debounce);
    },
  };
}
