import { builtinAgentConfigs } from "../agents/builtin.ts";
import { SnapshotGate } from "./snapshot.ts";
import type { ConfigSource } from "./types.ts";

/**
 * The three built-in agents, used when neither MONGODB_URI nor AGENTS_FILE is set.
 * They register through the marketplace API under AGENT_OWNER_ID with wallets
 * derived from owner and name, so a restart reuses the same marketplace agents.
 */
export function createDefaultsConfigSource(): ConfigSource {
  const gate = new SnapshotGate({ source: "defaults" });
  return {
    kind: "defaults",
    async load() {
      const snapshot = {
        agents: builtinAgentConfigs().map((config) => ({
          key: `defaults:${config.agent_type}`,
          source: "defaults" as const,
          ref: config.name,
          config,
        })),
        issues: [],
      };
      gate.prime(snapshot);
      return snapshot;
    },
    watch() {
      // Built-in configs do not change while the process runs.
    },
    status: () => ({ changeStream: "n/a", reload: gate.status() }),
    async close() {},
  };
}
