import type { ConfigSource } from "../agent-configs/types.ts";
import type { RunnerConfig } from "../config/env.ts";
import type { LlmClient } from "../llm/types.ts";
import type { Ledger } from "../state/types.ts";
import type { Supervisor } from "./fleet/supervisor.ts";
import type { PollLoop } from "./poll-loop.ts";
import type { LeaseKeeper } from "./replicas/lease-keeper.ts";
import type { DecisionLog } from "./telemetry/decision-log.ts";
import { type EarningsBook, withPerformance } from "./telemetry/earnings.ts";
import type { StatusTracker } from "./telemetry/status-tracker.ts";
import type {
  DecisionRecord,
  ReplicaStatus,
  RunnerEvent,
  StatusSnapshot,
  StatusSource,
} from "./telemetry/status-types.ts";

export interface RunnerStatusDeps {
  config: Pick<RunnerConfig, "bazaarApiUrl" | "llmBaseUrl" | "replicaId">;
  /** True when the runner serves the embedded marketplace it talks to. */
  embedded: boolean;
  ledger: Pick<Ledger, "summary">;
  llm: Pick<LlmClient, "configured">;
  source: Pick<ConfigSource, "kind" | "status">;
  supervisor: Pick<Supervisor, "issues" | "workers">;
  tracker: StatusTracker;
  decisions: DecisionLog;
  /** Whether the polls reach the marketplace. */
  marketplace: Pick<PollLoop, "reachable" | "lastOkAt">;
  /** With MongoDB: the other replicas, from the leases. */
  leases?: Pick<LeaseKeeper, "others">;
  /** Aborted once shutdown began: the runner is no longer ready. */
  stopping: AbortSignal;
  /** Each agent's earnings from the ledger's outcomes (issue 25), beside its counters. */
  earnings?: Pick<EarningsBook, "of">;
}

/**
 * What the HTTP layer shows of a runner (GET /api/status, /api/decisions, the event
 * stream, readiness), read from its parts as they are at the moment of asking.
 */
export class RunnerStatus implements StatusSource {
  readonly #deps: RunnerStatusDeps;
  readonly #startedAt = new Date().toISOString();
  #configLoaded = false;

  constructor(deps: RunnerStatusDeps) {
    this.#deps = deps;
  }

  /** The agent configs were read at start: from now on the runner may be ready. */
  configLoaded(): void {
    this.#configLoaded = true;
  }

  async snapshot(): Promise<StatusSnapshot> {
    const { config, source, marketplace } = this.#deps;
    let ledger: StatusSnapshot["ledger"] = null;
    try {
      ledger = await this.#deps.ledger.summary();
    } catch {
      ledger = null; // the status page shows the rest
    }
    return {
      startedAt: this.#startedAt,
      now: new Date().toISOString(),
      marketplace: {
        url: config.bazaarApiUrl,
        embedded: this.#deps.embedded,
        reachable: marketplace.reachable,
        lastOkAt: marketplace.lastOkAt,
      },
      config: {
        source: source.kind,
        loaded: this.#configLoaded,
        ...source.status(),
        issues: this.#deps.supervisor.issues,
      },
      ledger,
      llm: { configured: this.#deps.llm.configured, baseUrl: config.llmBaseUrl },
      agents: this.#deps.earnings
        ? await withPerformance(this.#deps.tracker.views(), this.#deps.earnings)
        : this.#deps.tracker.views(),
      replica: this.#replica(),
    };
  }

  #replica(): ReplicaStatus {
    return {
      id: this.#deps.config.replicaId,
      agents: this.#deps.supervisor.workers.map((w) => w.spec.config.name),
      others: this.#deps.leases?.others() ?? [],
    };
  }

  decisions(jobId?: string): DecisionRecord[] {
    const log = this.#deps.decisions;
    return jobId === undefined ? log.recent() : log.forJob(jobId);
  }

  recentEvents(limit?: number): RunnerEvent[] {
    return this.#deps.tracker.recent(limit);
  }

  onEvent(listener: (event: RunnerEvent) => void): () => void {
    return this.#deps.tracker.onEvent(listener);
  }

  ready(): { ready: boolean; reasons: string[] } {
    const reasons: string[] = [];
    if (!this.#configLoaded) reasons.push("agent configs not loaded");
    if (!this.#deps.marketplace.reachable)
      reasons.push(`marketplace at ${this.#deps.config.bazaarApiUrl} not reachable`);
    if (this.#deps.stopping.aborted) reasons.push("shutting down");
    return { ready: reasons.length === 0, reasons };
  }
}
