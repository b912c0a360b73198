import type { RunnerConfig } from "../config/env.ts";
import type { LlmClient } from "../llm/types.ts";
import type { Logger } from "../logger.ts";
import type { Sessions } from "../marketplace/auth.ts";
import type { MarketplaceClient } from "../marketplace/client.ts";
import type { Metrics } from "../metrics.ts";
import type { Ledger } from "../state/types.ts";
import type { AgentWallets } from "../wallet/agent-wallets.ts";
import {
  composeRunner,
  openResources,
  type RunnerOptions,
  type RunnerParts,
  type RunnerResources,
  releaseResources,
} from "./compose.ts";
import type { WebhookHint } from "./feed/webhook-hints.ts";
import type { AgentWorker } from "./fleet/agent-worker.ts";
import type { StatusTracker } from "./telemetry/status-tracker.ts";
import type {
  DecisionRecord,
  RunnerEvent,
  StatusSnapshot,
  StatusSource,
} from "./telemetry/status-types.ts";

export type { RunnerOptions };

/**
 * One runner's lifecycle: started (its resources opened and its parts built by
 * compose.ts, the agent configs loaded, the loops begun) and stopped gracefully. The
 * polls are the PollLoop's, the status the HTTP layer shows is the RunnerStatus's.
 */
export class Runner implements StatusSource {
  readonly config: RunnerConfig;
  readonly metrics: Metrics;
  readonly client: MarketplaceClient;
  readonly llm: LlmClient;
  readonly ledger: Ledger;
  readonly tracker: StatusTracker;
  readonly wallets: AgentWallets;
  readonly sessions: Sessions;
  readonly #log: Logger;
  readonly #resources: RunnerResources;
  readonly #parts: RunnerParts;
  readonly #stop: AbortController;
  #stopped: Promise<void> | undefined;

  private constructor(resources: RunnerResources, parts: RunnerParts, stop: AbortController) {
    this.config = resources.config;
    this.metrics = resources.metrics;
    this.client = resources.client;
    this.llm = resources.llm;
    this.ledger = resources.ledger;
    this.tracker = parts.tracker;
    this.wallets = parts.wallets;
    this.sessions = parts.sessions;
    this.#log = resources.logger;
    this.#resources = resources;
    this.#parts = parts;
    this.#stop = stop;
  }

  /** Builds every part, loads the agent configs (failing start-up if it cannot), and starts. */
  static async start(options: RunnerOptions): Promise<Runner> {
    const resources = await openResources(options);
    try {
      const stop = new AbortController();
      const parts = composeRunner(resources, {
        embedded: options.embeddedMarketplace ?? false,
        outboxIntervalMs: options.outboxIntervalMs,
        stopping: stop.signal,
      });
      const runner = new Runner(resources, parts, stop);
      await runner.#begin();
      return runner;
    } catch (error) {
      // Start-up failed (configs unreadable): release what was opened.
      await releaseResources(resources);
      throw error;
    }
  }

  async #begin(): Promise<void> {
    const { source, llm, config } = this.#resources;
    const { supervisor, leases, tracker } = this.#parts;
    const snapshot = await source.load();
    this.#parts.status.configLoaded();
    this.#log.info(
      {
        source: source.kind,
        agents: snapshot.agents.map((a) => a.config.name),
        issues: snapshot.issues.length,
        llm: llm.configured ? config.llmBaseUrl : "not configured",
      },
      "agent configs loaded",
    );
    if (!llm.configured) {
      this.#log.warn(
        "FIREWORKS_API_KEY is not set: agents heartbeat and bid, and answer won jobs with a failed result",
      );
    }
    await supervisor.apply(snapshot);
    source.watch((next) => {
      tracker.emit({
        kind: "config",
        message: `config reloaded: ${next.agents.length} agents, ${next.issues.length} issues`,
      });
      void supervisor.apply(next).then(() => leases?.nudge());
    });
    leases?.start();
    this.#parts.outbox.start();
    this.#parts.guard.start();
    this.#parts.polls.start();
  }

  /** Whether the agent id is one of this runner's running agents. */
  isOurAgent(agentId: string): boolean {
    return this.#parts.fleet.isOurAgent(agentId);
  }

  /** A webhook notification: followed at once by the HintFollower (feed/webhook-hints.ts). */
  hint(hint: WebhookHint): void {
    this.#parts.hints.follow(hint);
  }

  get workers(): AgentWorker[] {
    return this.#parts.supervisor.workers;
  }

  // StatusSource: the RunnerStatus's (status-source.ts).

  snapshot(): Promise<StatusSnapshot> {
    return this.#parts.status.snapshot();
  }

  decisions(jobId?: string): DecisionRecord[] {
    return this.#parts.status.decisions(jobId);
  }

  recentEvents(limit?: number): RunnerEvent[] {
    return this.#parts.status.recentEvents(limit);
  }

  onEvent(listener: (event: RunnerEvent) => void): () => void {
    return this.#parts.status.onEvent(listener);
  }

  ready(): { ready: boolean; reasons: string[] } {
    return this.#parts.status.ready();
  }

  /**
   * Graceful stop: no more bids, in-flight jobs finish within the grace period,
   * unsubmitted results stay in the ledger, agents heartbeat offline.
   */
  stop(): Promise<void> {
    this.#stopped ??= this.#shutdown();
    return this.#stopped;
  }

  async #shutdown(): Promise<void> {
    const { leases, polls, guard, supervisor, heartbeatClock, outbox } = this.#parts;
    const { source, ledger, mongo, ownedPool, stateLock } = this.#resources;
    this.#log.info(
      { graceMs: this.config.shutdownGraceMs },
      "shutting down: no more bids, finishing in-flight jobs",
    );
    leases?.beginLeaving();
    this.#stop.abort();
    await polls.finished();
    await guard.stop();
    await supervisor.stopAll();
    heartbeatClock.close();
    await outbox.flush();
    await outbox.close();
    // The agents drained: their leases go now, so other replicas take them at once.
    await leases?.stop();
    await source.close();
    const pending = await ledger.pendingResults().catch(() => []);
    if (pending.length > 0)
      this.#log.warn(
        { results: pending.length },
        "results not yet accepted stay in the ledger for the next start",
      );
    await ledger.close();
    await mongo?.close();
    await ownedPool?.close();
    stateLock?.release();
    this.#log.info("runner stopped");
  }
}
