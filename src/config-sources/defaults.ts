import { builtinAgentConfigs } from "../agents/builtin.ts";
import type { ConfigSource } from "./types.ts";

/**
 * The three built-in agents, used when neither MONGODB_URI nor AGENTS_FILE is set.
 * They register through the marketplace API under AGENT_OWNER_ID with wallets
 * derived from owner and name, so a restart reuses the same marketplace agents.
 */
export function createDefaultsConfigSource(): ConfigSource {
  const loadedAt = new Date().toISOString();
  return {
    kind: "defaults",
    async load() {
      return {
        agents: builtinAgentConfigs().map((config) => ({
          key: `defaults:${config.agent_type}`,
          source: "defaults" as const,
          ref: config.name,
          config,
        })),
        issues: [],
      };
    },
    watch() {
      // Built-in configs do not change while the process runs.
    },
    status: () => ({ changeStream: "n/a", lastReloadAt: loadedAt, lastReloadOutcome: "ok" }),
    async close() {},
  };
}
