import type { AgentConfig, AgentSource } from "../agents/types.ts";

/** A config document that failed validation, shown where the operator will see it. */
export interface ConfigIssue {
  source: AgentSource;
  /** The document's _id, name or file entry index. */
  ref: string;
  message: string;
}

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

/** The outcome of the latest read of a source (at start or on reload). */
export interface ReloadStatus {
  ok: boolean;
  /** Agents and rejected documents in force (a failed read keeps the last good counts). */
  agents: number;
  issues: number;
  /** What went wrong, for a failed read; null when ok. */
  error: string | null;
  at: string;
}

export interface ConfigSourceStatus {
  changeStream: "active" | "unavailable" | "n/a";
  /** Null until the source was first read. */
  reload: ReloadStatus | null;
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
