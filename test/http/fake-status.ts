import type {
  AgentView,
  DecisionRecord,
  ReloadStatus,
  ReplicaStatus,
  Snapshot,
} from "../../src/http/dashboard/types.ts";
import { AgentStats } from "../../src/runner/telemetry/status-tracker.ts";
import type {
  ConfigIssue,
  RunnerEvent,
  StatusSource,
} from "../../src/runner/telemetry/status-types.ts";

const MODEL = "accounts/fireworks/models/llama-v3p3-70b-instruct";

/** An agent's view as a freshly started worker has it, then moved along by `extra`. */
function agent(
  name: string,
  agentType: string,
  baseRateUsd: number,
  extra: Partial<AgentView>,
): AgentView {
  const { view } = new AgentStats({
    key: `mongo:${name}`,
    name,
    agentType,
    source: "mongo",
    model: MODEL,
    baseRateUsd,
    maxConcurrentJobs: 3,
  });
  return {
    ...view,
    agentId: `agent_${name.toLowerCase()}`,
    state: "running",
    lastHeartbeatAt: new Date(Date.now() - 20_000).toISOString(),
    lastHeartbeatOutcome: "ok",
    earnings: { bidUsd: 0, wonUsd: 0, paidUsd: 0 },
    ...extra,
  };
}

/**
 * A StatusSource that behaves like the runner's: the seed's three agents, events that
 * move their counters the way the workers would, readiness that tests can flip. It
 * carries the fields of the shared contract (earnings, wallet, spend cap, replica,
 * reload status, decisions), which tests set to see how the page shows them.
 */
export class FakeStatusSource implements StatusSource {
  readonly startedAt = new Date(Date.now() - 3_600_000).toISOString();
  agents: AgentView[];
  issues: ConfigIssue[] = [];
  reload: ReloadStatus | null = {
    ok: true,
    agents: 3,
    issues: 0,
    error: null,
    at: new Date(Date.now() - 90_000).toISOString(),
  };
  replica: ReplicaStatus | undefined;
  /** Newest last; `decisions()` answers newest first, as GET /api/decisions does. */
  readonly decisionLog: DecisionRecord[] = [];
  marketplace = {
    url: "http://127.0.0.1:8000",
    embedded: true,
    reachable: true,
    lastOkAt: new Date().toISOString() as string | null,
  };
  /** Set to false to show a runner whose ledger is not open (yet). */
  ledgerOpen = true;
  private readonly events: RunnerEvent[] = [];
  private readonly listeners = new Set<(event: RunnerEvent) => void>();
  private readiness = { ready: false, reasons: ["config not loaded", "marketplace not reached"] };
  snapshotCalls = 0;

  constructor(options: { history?: boolean } = {}) {
    this.agents = [
      agent("SchemaArchitect", "schema_architect", 0.04, {
        jobsSeen: 14,
        bidsPlaced: 6,
        bidsWon: 3,
        jobsInFlight: 1,
        resultsAccepted: 2,
        tokensUsed: 5120,
        llmCostUsd: 0.0046,
        earnings: { bidUsd: 0.262, wonUsd: 0.171, paidUsd: 0.114 },
        wallet: { address: "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266", holdsKey: true },
      }),
      agent("AnomalyHunter", "anomaly_hunter", 0.05, {
        jobsSeen: 14,
        bidsPlaced: 4,
        bidsWon: 1,
        resultsAccepted: 1,
        tokensUsed: 2210,
        llmCostUsd: 0.002,
        earnings: { bidUsd: 0.21, wonUsd: 0.072, paidUsd: 0.072 },
        wallet: { address: "0x70997970C51812dc3A010C7d01b50e0d17dc79C8", holdsKey: false },
        spendCapReached: true,
      }),
      agent("CodeReviewer", "code_reviewer", 0.03, {
        state: "draining",
        jobsSeen: 14,
        bidsPlaced: 2,
        resultsFailed: 1,
        earnings: { bidUsd: 0.07, wonUsd: 0, paidUsd: 0 },
        errors: 1,
        lastError: "POST /api/jobs/job_9f2/result: 409 job no longer assigned",
        lastHeartbeatOutcome: "failed: 503",
      }),
    ];
    if (options.history) this.seedHistory();
  }

  setReady(ready: boolean, reasons: string[] = []): void {
    this.readiness = { ready, reasons };
  }

  ready(): { ready: boolean; reasons: string[] } {
    return { ...this.readiness, reasons: [...this.readiness.reasons] };
  }

  async snapshot(): Promise<Snapshot> {
    this.snapshotCalls += 1;
    const ledger = {
      backend: "sqlite" as const,
      entries: 12,
      bids: this.agents.reduce((n, a) => n + a.bidsPlaced, 0),
      won: this.agents.reduce((n, a) => n + a.bidsWon, 0),
      pendingResults: 1,
      accepted: this.agents.reduce((n, a) => n + a.resultsAccepted, 0),
      failed: this.agents.reduce((n, a) => n + a.resultsFailed, 0),
      closed: 1,
    };
    return structuredClone({
      startedAt: this.startedAt,
      now: new Date().toISOString(),
      marketplace: this.marketplace,
      config: {
        source: "mongo" as const,
        loaded: true,
        reload: this.reload,
        changeStream: "active" as const,
        issues: this.issues,
      },
      ledger: this.ledgerOpen ? ledger : null,
      llm: { configured: true, baseUrl: "https://api.fireworks.ai/inference/v1" },
      agents: this.agents,
      ...(this.replica ? { replica: this.replica } : {}),
    });
  }

  recentEvents(limit = 200): RunnerEvent[] {
    return this.events.slice(-limit);
  }

  onEvent(listener: (event: RunnerEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  listenerCount(): number {
    return this.listeners.size;
  }

  /** Each agent's decision on `jobId`; without one, the latest decisions (newest first). */
  decisions(jobId?: string): DecisionRecord[] {
    const newestFirst = [...this.decisionLog].reverse();
    return jobId === undefined
      ? newestFirst.slice(0, 200)
      : newestFirst.filter((d) => d.jobId === jobId);
  }

  decide(record: Omit<DecisionRecord, "at" | "agentId"> & { at?: string }): void {
    const agentId = this.agents.find((a) => a.name === record.agent)?.agentId ?? null;
    this.decisionLog.push({ at: new Date().toISOString(), agentId, ...record });
  }

  /**
   * Records an event, moves the agent's counters like a worker would, and tells listeners.
   * A `result` counts as accepted unless `failed` says the result was a failed one.
   */
  emit(
    partial: Omit<RunnerEvent, "at"> & { at?: string },
    effect: { failed?: boolean } = {},
  ): RunnerEvent {
    const event: RunnerEvent = { at: new Date().toISOString(), ...partial };
    this.apply(event, effect.failed === true);
    this.events.push(event);
    if (this.events.length > 5000) this.events.shift();
    for (const listener of this.listeners) listener(event);
    return event;
  }

  private apply(event: RunnerEvent, failed: boolean): void {
    const target = this.agents.find((a) => a.name === event.agent);
    if (!target) return;
    const earnings = target.earnings ?? { bidUsd: 0, wonUsd: 0, paidUsd: 0 };
    target.earnings = earnings;
    switch (event.kind) {
      case "heartbeat":
        target.lastHeartbeatAt = event.at;
        target.lastHeartbeatOutcome = "ok";
        break;
      case "bid":
        target.jobsSeen += 1;
        target.bidsPlaced += 1;
        earnings.bidUsd += event.amountUsd ?? 0;
        break;
      case "won":
        target.bidsWon += 1;
        target.jobsInFlight += 1;
        earnings.wonUsd += event.amountUsd ?? 0;
        break;
      case "execution":
        target.tokensUsed += event.tokens ?? 0;
        target.llmCostUsd += event.costUsd ?? 0;
        break;
      case "result":
        target.jobsInFlight = Math.max(0, target.jobsInFlight - 1);
        if (failed) target.resultsFailed += 1;
        else target.resultsAccepted += 1;
        break;
      case "error":
        target.errors += 1;
        target.lastError = event.message;
        break;
      default:
        break;
    }
  }

  /** An hour of plausible activity, so the charts and timeline have something to show. */
  private seedHistory(): void {
    const names = this.agents.map((a) => a.name);
    const now = Date.now();
    let seq = 0;
    for (let minutesAgo = 58; minutesAgo >= 1; minutesAgo -= 3) {
      const name = names[seq % names.length]!;
      const at = (offsetS: number) =>
        new Date(now - minutesAgo * 60_000 + offsetS * 1000).toISOString();
      const jobId = `job_${(0x1a2b + seq).toString(16)}`;
      const price = Math.round((0.03 + (seq % 5) * 0.01) * 1000) / 1000;
      this.events.push({
        at: at(0),
        kind: "bid",
        agent: name,
        jobId,
        message: `bid $${price.toFixed(3)} (confidence 0.8${seq % 10})`,
        amountUsd: price,
      });
      if (seq % 2 === 0) {
        const tokens = 800 + (seq % 7) * 150;
        this.events.push({
          at: at(40),
          kind: "won",
          agent: name,
          jobId,
          message: "bid accepted",
          amountUsd: price,
        });
        this.events.push({
          at: at(70),
          kind: "execution",
          agent: name,
          jobId,
          message: `executed in 8.2 s (${tokens} tokens)`,
          tokens,
          costUsd: tokens * 0.9e-6,
        });
        this.events.push({
          at: at(75),
          kind: "result",
          agent: name,
          jobId,
          message: "result accepted",
        });
      }
      seq += 1;
    }
  }
}
