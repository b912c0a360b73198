import { EventEmitter } from "node:events";
import type { AgentSource } from "../../agents/types.ts";
import type { AgentStatusView, RunnerEvent, WorkerState } from "./status-types.ts";

const MAX_EVENTS = 2000;

/** The operator's view of one agent, kept up to date by its worker. */
export class AgentStats {
  readonly view: AgentStatusView;
  constructor(init: {
    key: string;
    name: string;
    agentType: string;
    source: AgentSource;
    model: string;
    baseRateUsd: number;
    maxConcurrentJobs: number;
  }) {
    this.view = {
      ...init,
      agentId: null,
      state: "registering",
      lastHeartbeatAt: null,
      lastHeartbeatOutcome: null,
      jobsSeen: 0,
      bidsPlaced: 0,
      bidsWon: 0,
      jobsInFlight: 0,
      resultsAccepted: 0,
      resultsFailed: 0,
      tokensUsed: 0,
      llmCostUsd: 0,
      earnings: { bidUsd: 0, wonUsd: 0, paidUsd: 0 },
      wallet: null,
      spendCapReached: false,
      errors: 0,
      lastError: null,
    };
  }
}

/**
 * Per-agent counters and the recent-event timeline behind /api/status and the
 * dashboard. Workers write; the HTTP layer reads and subscribes.
 */
export class StatusTracker {
  readonly #agents = new Map<string, AgentStats>();
  readonly #events: RunnerEvent[] = [];
  readonly #emitter = new EventEmitter();

  constructor() {
    this.#emitter.setMaxListeners(0);
  }

  add(stats: AgentStats): void {
    this.#agents.set(stats.view.key, stats);
  }

  remove(key: string): void {
    this.#agents.delete(key);
  }

  views(): AgentStatusView[] {
    return [...this.#agents.values()].map((s) => ({ ...s.view }));
  }

  countByState(): Record<WorkerState, number> {
    const counts: Record<WorkerState, number> = {
      registering: 0,
      running: 0,
      draining: 0,
      stopped: 0,
      failed: 0,
    };
    for (const s of this.#agents.values()) counts[s.view.state]++;
    return counts;
  }

  emit(event: Omit<RunnerEvent, "at">): void {
    const full: RunnerEvent = { at: new Date().toISOString(), ...event };
    this.#events.push(full);
    if (this.#events.length > MAX_EVENTS) this.#events.splice(0, this.#events.length - MAX_EVENTS);
    this.#emitter.emit("event", full);
  }

  recent(limit = 200): RunnerEvent[] {
    return this.#events.slice(-Math.max(0, limit));
  }

  onEvent(listener: (event: RunnerEvent) => void): () => void {
    this.#emitter.on("event", listener);
    return () => this.#emitter.off("event", listener);
  }
}
