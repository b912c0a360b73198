import type { AgentSource } from "../agents/types.ts";
import type { Logger } from "../logger.ts";
import type { Metrics } from "../metrics.ts";
import { errorMessage } from "../secrets.ts";
import type { AgentSpec, ConfigIssue, ConfigSnapshot, ReloadStatus } from "./types.ts";
import { validateAgentDocument } from "./validate.ts";

export interface SnapshotOptions {
  source: AgentSource;
  isKnownType: (agentType: string) => boolean;
  logger: Logger;
  metrics?: Metrics;
  /** Problems already logged, so a bad entry is logged once, not at every reload. */
  reported: Set<string>;
}

/**
 * Turns raw entries into a snapshot: each validated, bad ones reported once and
 * counted, names kept unique within the source.
 */
export function buildSnapshot(
  entries: Array<{ key: string; ref: string; doc: unknown }>,
  options: SnapshotOptions,
): ConfigSnapshot {
  const agents: AgentSpec[] = [];
  const issues: ConfigIssue[] = [];
  const keys = new Set<string>();
  for (const entry of entries) {
    const result = validateAgentDocument(entry.doc, {
      source: options.source,
      ref: entry.ref,
      isKnownType: options.isKnownType,
    });
    let issue = result.ok ? undefined : result.issue;
    if (result.ok && keys.has(entry.key)) {
      issue = {
        source: options.source,
        ref: entry.ref,
        message: "name: another agent of this source has the same name",
      };
    }
    if (issue) {
      issues.push(issue);
      const fingerprint = `${issue.ref}|${issue.message}`;
      if (!options.reported.has(fingerprint)) {
        options.reported.add(fingerprint);
        options.metrics?.configErrors.inc({ source: options.source });
        options.logger.warn(
          { source: options.source, ref: issue.ref, problem: issue.message },
          "agent config skipped",
        );
      }
      continue;
    }
    if (result.ok) {
      keys.add(entry.key);
      agents.push({
        key: entry.key,
        source: options.source,
        ref: entry.ref,
        config: result.config,
      });
    }
  }
  return { agents, issues };
}

/** A stable fingerprint of a snapshot, to tell whether a reload changed anything. */
function snapshotFingerprint(snapshot: ConfigSnapshot): string {
  return JSON.stringify([
    snapshot.agents.map((a) => [a.key, a.config]),
    snapshot.issues.map((i) => [i.ref, i.message]),
  ]);
}

/**
 * The one record of a source's reloads. Passes a reloaded snapshot on only when it
 * differs from the last one; counts each read the same way for every source (`ok` for
 * each successful read, `change` when the set changed, `error` for a failed one); and
 * keeps the outcome of the latest read for the status page.
 */
export class SnapshotGate {
  readonly #source: AgentSource;
  readonly #logger: Logger | undefined;
  readonly #metrics: Metrics | undefined;
  #last: string | undefined;
  #good: { agents: number; issues: number } = { agents: 0, issues: 0 };
  #status: ReloadStatus | null = null;
  #failures = 0;

  constructor(options: { source: AgentSource; logger?: Logger; metrics?: Metrics }) {
    this.#source = options.source;
    this.#logger = options.logger;
    this.#metrics = options.metrics;
  }

  /** True once a snapshot was loaded or passed on. */
  get primed(): boolean {
    return this.#last !== undefined;
  }

  /** Failed reads since the last good one (0 while the source reads fine). */
  get failures(): number {
    return this.#failures;
  }

  /** The latest read's outcome; null before the first read. */
  status(): ReloadStatus | null {
    return this.#status && { ...this.#status };
  }

  /** Records the snapshot `load()` returned: the baseline later reloads compare with. */
  prime(snapshot: ConfigSnapshot): void {
    this.#last = snapshotFingerprint(snapshot);
    this.#succeeded(snapshot);
  }

  /** Calls `onChange` if the snapshot differs from the last one; returns whether it did. */
  offer(
    snapshot: ConfigSnapshot,
    onChange: ((snapshot: ConfigSnapshot) => void) | undefined,
    reason: string,
  ): boolean {
    this.#succeeded(snapshot);
    const fingerprint = snapshotFingerprint(snapshot);
    if (fingerprint === this.#last) return false;
    this.#last = fingerprint;
    this.#metrics?.configReloads.inc({ source: this.#source, outcome: "change" });
    this.#logger?.info(
      {
        source: this.#source,
        reason,
        agents: snapshot.agents.length,
        issues: snapshot.issues.length,
      },
      "agent configs changed",
    );
    onChange?.(snapshot);
    return true;
  }

  /**
   * Records a failed read; the last good set stays in force, so the status keeps its
   * counts. Returns the number of failures in a row. Logging is the source's: each
   * words its trouble differently.
   */
  failed(error: unknown): number {
    this.#failures += 1;
    this.#metrics?.configReloads.inc({ source: this.#source, outcome: "error" });
    this.#status = { ok: false, ...this.#good, error: errorMessage(error), at: now() };
    return this.#failures;
  }

  #succeeded(snapshot: ConfigSnapshot): void {
    this.#failures = 0;
    this.#metrics?.configReloads.inc({ source: this.#source, outcome: "ok" });
    this.#good = { agents: snapshot.agents.length, issues: snapshot.issues.length };
    this.#status = { ok: true, ...this.#good, error: null, at: now() };
  }
}

const now = () => new Date().toISOString();
