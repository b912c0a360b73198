import type { AgentConfig, AgentSource } from "../agents/types.ts";
import type { ConfigIssue } from "../runner/status-types.ts";

/** One agent the config source wants run. */
export interface AgentSpec {
  /** Stable identity across reloads (mongo `_id`, file entry name, built-in type). */
  key: string;
  source: AgentSource;
  /** Human reference for logs: the document's _id and name. */
  ref: string;
  config: AgentConfig;
}

/** The desired set of agents at one moment, plus the documents that were rejected. */
export interface ConfigSnapshot {
  agents: AgentSpec[];
  issues: ConfigIssue[];
}

export interface ConfigSourceStatus {
  changeStream: "active" | "unavailable" | "n/a";
  lastReloadAt: string | null;
  lastReloadOutcome: string | null;
}

/** Where agent configs come from: built-in defaults, AGENTS_FILE, or MongoDB. */
export interface ConfigSource {
  readonly kind: AgentSource;
  /** Loads the desired set once. Throws when the source cannot be read at start. */
  load(): Promise<ConfigSnapshot>;
  /**
   * Starts watching for changes; `onChange` gets the whole new snapshot each time.
   * Never throws: trouble is logged, counted and retried.
   */
  watch(onChange: (snapshot: ConfigSnapshot) => void): void;
  /** Stores the marketplace id (and wallet) an agent was registered under, if the source can. */
  writeBack?(spec: AgentSpec, fields: { agent_id: string; wallet_address: string }): Promise<void>;
  status(): ConfigSourceStatus;
  close(): Promise<void>;
}
