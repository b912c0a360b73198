import type { MongoClient } from "mongodb";
import type { Dispatcher } from "undici";
import { createConfigSource } from "../agent-configs/index.ts";
import type { ConfigSource } from "../agent-configs/types.ts";
import { registerAllExecutors } from "../agents/plugins.ts";
import { hasExecutor } from "../agents/registry.ts";
import type { RunnerConfig } from "../config/env.ts";
import { createLlmClient } from "../llm/client.ts";
import type { LlmClient } from "../llm/types.ts";
import type { Logger } from "../logger.ts";
import { Sessions } from "../marketplace/auth.ts";
import { MarketplaceClient } from "../marketplace/client.ts";
import { NegotiationApi } from "../marketplace/negotiation-api.ts";
import type { JobWithBids } from "../marketplace/schemas.ts";
import { createMetrics, type Metrics } from "../metrics.ts";
import { createSharedPool } from "../pool.ts";
import { backoffDelay, sleep } from "../retry.ts";
import { errorMessage, redactUri, registerSecret, registerUriSecrets } from "../secrets.ts";
import { openLedger } from "../state/index.ts";
import { openLeaseStore } from "../state/leases.ts";
import { lockStateDir, type StateDirLock } from "../state/state-dir-lock.ts";
import type { Ledger, LedgerEntry } from "../state/types.ts";
import { AgentWallets } from "../wallet/agent-wallets.ts";
import { resolveWalletSetup, type WalletSetup } from "../wallet/setup.ts";
import { SpendCaps } from "./bidding/spend-caps.ts";
import { Outbox, type SubmitOutcome } from "./delivery/outbox.ts";
import { type FeedPage, JobFeed } from "./feed/job-feed.ts";
import { MarketplaceHealth } from "./feed/marketplace-health.ts";
import {
  HintFollower,
  pollIntervalFor,
  type WebhookHint,
  webhookUrl,
} from "./feed/webhook-hints.ts";
import type { AgentWorker } from "./fleet/agent-worker.ts";
import { Supervisor } from "./fleet/supervisor.ts";
import { MoneyWatch } from "./negotiation/money-watch.ts";
import { AgentGuard, guardPeriodMs } from "./presence/agent-guard.ts";
import { HeartbeatClock, heartbeatTickMs } from "./presence/heartbeat-clock.ts";
import { Registrar } from "./presence/registration-queue.ts";
import { KeylessAgents } from "./presence/wallet-migration.ts";
import { LeaseKeeper } from "./replicas/lease-keeper.ts";
import { DecisionLog } from "./telemetry/decision-log.ts";
import { StatusTracker } from "./telemetry/status-tracker.ts";
import type {
  DecisionRecord,
  ReplicaStatus,
  RunnerEvent,
  StatusSnapshot,
  StatusSource,
} from "./telemetry/status-types.ts";

export interface RunnerOptions {
  config: RunnerConfig;
  logger: Logger;
  metrics?: Metrics;
  /** The shared pool; created (and closed) by the runner when not given. */
  dispatcher?: Dispatcher;
  llm?: LlmClient;
  ledger?: Ledger;
  configSource?: ConfigSource;
  /** True when `start` serves the embedded marketplace the runner talks to. */
  embeddedMarketplace?: boolean;
  /** Outbox and registration pacing, shortened by tests. */
  outboxIntervalMs?: number;
}

/**
 * One runner: the config source, the supervisor with its workers, the shared job
 * feed polled on one loop, the outbox, and the status the HTTP layer shows.
 */
export class Runner implements StatusSource {
  readonly config: RunnerConfig;
  readonly metrics: Metrics;
  readonly client: MarketplaceClient;
  readonly llm: LlmClient;
  readonly ledger: Ledger;
  readonly tracker = new StatusTracker();
  readonly wallets: AgentWallets;
  readonly sessions: Sessions;
  readonly #money: MoneyWatch;
  readonly #decisions = new DecisionLog();
  readonly #log: Logger;
  readonly #source: ConfigSource;
  readonly #supervisor: Supervisor;
  readonly #feed: JobFeed;
  readonly #outbox: Outbox;
  readonly #ownedPool: Dispatcher | undefined;
  readonly #mongo: MongoClient | undefined;
  /** With MongoDB: the agents are shared with other replicas through leases. */
  readonly #leases: LeaseKeeper | undefined;
  /** Without MongoDB: this process's hold on RUNNER_STATE_DIR. */
  readonly #stateLock: StateDirLock | undefined;
  readonly #embedded: boolean;
  readonly #startedAt = new Date().toISOString();
  readonly #stop = new AbortController();
  #configLoaded = false;
  #marketplaceReachable = false;
  #lastMarketplaceOk: string | null = null;
  #pollLoop: Promise<void> | undefined;
  readonly #health: MarketplaceHealth;
  readonly #heartbeatClock: HeartbeatClock;
  readonly #hints: HintFollower;
  /** Puts back what somebody else changed in our agents' marketplace documents. */
  readonly #guard: AgentGuard;
  #dispatching: Promise<void> = Promise.resolve();
  /** The marketplace ids of the running agents, worked out once per poll. */
  #agentIds: Set<string> | undefined;
  #stopped: Promise<void> | undefined;

  private constructor(parts: {
    options: RunnerOptions;
    metrics: Metrics;
    client: MarketplaceClient;
    llm: LlmClient;
    ledger: Ledger;
    source: ConfigSource;
    ownedPool: Dispatcher | undefined;
    mongo: MongoClient | undefined;
    walletSetup: WalletSetup;
    stateLock: StateDirLock | undefined;
  }) {
    const { options } = parts;
    this.config = options.config;
    this.metrics = parts.metrics;
    this.client = parts.client;
    this.llm = parts.llm;
    this.ledger = parts.ledger;
    this.#log = options.logger;
    this.#source = parts.source;
    this.#ownedPool = parts.ownedPool;
    this.#mongo = parts.mongo;
    this.#stateLock = parts.stateLock;
    this.#embedded = options.embeddedMarketplace ?? false;
    this.#health = new MarketplaceHealth({ maxProbeDelayMs: this.config.heartbeatIntervalMs });
    this.#heartbeatClock = new HeartbeatClock({
      tickMs: heartbeatTickMs(this.config.heartbeatIntervalMs),
    });
    this.#hints = new HintFollower({
      client: this.client,
      logger: this.#log,
      isOurAgent: (agentId) => this.isOurAgent(agentId),
      dispatch: (page) => this.#dispatch(page),
      assignedHint: (jobId) => this.#feed.hintAssigned(jobId),
      following: () => this.#health.up && !this.#stop.signal.aborted,
      signal: this.#stop.signal,
    });
    this.#feed = new JobFeed({
      client: this.client,
      logger: this.#log,
      metrics: this.metrics,
      ledger: this.ledger,
      ourAgents: () => this.#ourAgentIds(),
      pollIntervalMs: this.config.pollIntervalMs,
      decisions: this.#decisions,
    });
    this.#outbox = new Outbox({
      client: this.client,
      ledger: this.ledger,
      logger: this.#log,
      metrics: this.metrics,
      intervalMs: options.outboxIntervalMs,
      ...(parts.mongo ? { owns: (agentId: string) => this.#supervisor.runsAgent(agentId) } : {}),
      onOutcome: (entry, outcome) => this.#onSubmitted(entry, outcome),
    });
    const source = this.#source;
    this.wallets = new AgentWallets(parts.walletSetup, this.ledger, this.config.ownerId);
    this.sessions = new Sessions({ transport: this.client.transport, logger: this.#log });
    const negotiation = new NegotiationApi(this.client.transport);
    this.#money = new MoneyWatch({
      client: this.client,
      negotiation,
      ledger: this.ledger,
      logger: this.#log,
      workers: () => this.#supervisor.workers,
      offersPossible: () => this.#feed.bidLeftPosted,
    });
    const registrar = new Registrar(
      this.client,
      this.config.ownerId,
      this.config.defaultModel,
      webhookUrl(this.config.publicUrl),
    );
    this.#supervisor = new Supervisor(
      {
        client: this.client,
        llm: this.llm,
        ledger: this.ledger,
        registrar,
        webhookUrl: webhookUrl(this.config.publicUrl),
        outbox: this.#outbox,
        tracker: this.tracker,
        decisions: this.#decisions,
        logger: this.#log,
        metrics: this.metrics,
        heartbeatIntervalMs: this.config.heartbeatIntervalMs,
        heartbeatClock: this.#heartbeatClock,
        health: this.#health,
        pollIntervalMs: this.config.pollIntervalMs,
        defaultModel: this.config.defaultModel,
        llmPrices: this.config.llmPrices,
        wallets: this.wallets,
        sessions: this.sessions,
        negotiation,
        spendCaps: new SpendCaps(this.ledger, {
          agentCapUsd: this.config.agentDailySpendUsd,
          runnerCapUsd: this.config.runnerDailySpendUsd,
        }),
        minMargin: this.config.minMargin,
        onRegistered: source.writeBack
          ? (spec, registration) =>
              source.writeBack!(spec, {
                agent_id: registration.agentId,
                wallet_address: registration.walletAddress,
              })
          : undefined,
        checkForeignHeartbeats: !parts.mongo,
        keyless: new KeylessAgents(this.client),
      },
      this.config.shutdownGraceMs,
      { leased: parts.mongo !== undefined },
    );
    this.#guard = new AgentGuard({
      client: this.client,
      sessions: this.sessions,
      wallets: this.wallets,
      registrar,
      webhookUrl: webhookUrl(this.config.publicUrl),
      agents: () => this.#supervisor.workers,
      logger: this.#log,
      periodMs: guardPeriodMs(this.config.heartbeatIntervalMs),
      up: () => this.#health.up && !this.#stop.signal.aborted,
    });
    this.#leases = parts.mongo
      ? new LeaseKeeper({
          store: openLeaseStore({
            client: parts.mongo,
            dbName: this.config.mongodbDb,
            replicaId: this.config.replicaId,
            ttlMs: this.config.leaseTtlMs,
          }),
          supervisor: this.#supervisor,
          logger: this.#log,
          metrics: this.metrics,
        })
      : undefined;
  }

  /** Builds every part, loads the agent configs (failing start-up if it cannot), and starts. */
  static async start(options: RunnerOptions): Promise<Runner> {
    const { config, logger } = options;
    registerSecret(config.fireworksApiKey);
    registerSecret(config.walletMnemonic);
    registerUriSecrets(config.mongodbUri);
    // Without MongoDB the state directory is this process's alone: claimed before anything
    // in it (the development wallet, the ledger) is read or written.
    const stateLock =
      !config.mongodbUri && !options.ledger ? lockStateDir(config.stateDir) : undefined;
    let walletSetup: WalletSetup;
    try {
      // Before any request: a marketplace elsewhere with no wallet configured is refused
      // here, since whatever it paid would be lost.
      walletSetup = resolveWalletSetup(config, logger);
      await registerAllExecutors(config.plugins, { cwd: process.cwd(), logger });
    } catch (error) {
      stateLock?.release();
      throw error;
    }

    const metrics = options.metrics ?? createMetrics();
    const ownedPool = options.dispatcher ? undefined : createSharedPool();
    const dispatcher = options.dispatcher ?? ownedPool!;
    const client = new MarketplaceClient({
      baseUrl: config.bazaarApiUrl,
      dispatcher,
      metrics,
      logger,
    });
    const llm =
      options.llm ??
      createLlmClient({
        apiKey: config.fireworksApiKey,
        baseUrl: config.llmBaseUrl,
        dispatcher,
        timeoutMs: config.llmTimeoutMs,
        metrics,
        prices: config.llmPrices,
        logger,
      });

    let mongo: MongoClient | undefined;
    let ledger: Ledger | undefined;
    let source: ConfigSource | undefined;
    try {
      if (config.mongodbUri && (!options.ledger || !options.configSource)) {
        logger.info(
          { uri: redactUri(config.mongodbUri), replica: config.replicaId },
          "connecting to MongoDB",
        );
        // Ledger and lease calls fail fast while MongoDB is away: connectMongo gives
        // server selection 5 s (the driver's default is 30 s).
        const { connectMongo } = await import("../agent-configs/mongo-connect.ts");
        mongo = await connectMongo(config.mongodbUri, { appName: "bazaar-runner" });
      }
      ledger =
        options.ledger ??
        (await openLedger({
          stateDir: config.stateDir,
          mongoClient: mongo,
          mongoDbName: config.mongodbDb,
          metrics,
          logger,
        }));
      source =
        options.configSource ??
        (await createConfigSource({
          config,
          mongoClient: mongo,
          isKnownType: hasExecutor,
          logger,
          metrics,
        }));
      const runner = new Runner({
        options,
        metrics,
        client,
        llm,
        ledger,
        source,
        ownedPool,
        mongo,
        walletSetup,
        stateLock,
      });
      await runner.#begin();
      return runner;
    } catch (error) {
      // Start-up failed (MongoDB unreachable, configs unreadable): release what was opened.
      await source?.close().catch(() => undefined);
      await ledger?.close().catch(() => undefined);
      await mongo?.close().catch(() => undefined);
      await ownedPool?.close().catch(() => undefined);
      stateLock?.release();
      throw error;
    }
  }

  async #begin(): Promise<void> {
    const snapshot = await this.#source.load();
    this.#configLoaded = true;
    this.#log.info(
      {
        source: this.#source.kind,
        agents: snapshot.agents.map((a) => a.config.name),
        issues: snapshot.issues.length,
        llm: this.llm.configured ? this.config.llmBaseUrl : "not configured",
      },
      "agent configs loaded",
    );
    if (!this.llm.configured) {
      this.#log.warn(
        "FIREWORKS_API_KEY is not set: agents heartbeat and bid, and answer won jobs with a failed result",
      );
    }
    await this.#supervisor.apply(snapshot);
    this.#source.watch((next) => {
      this.tracker.emit({
        kind: "config",
        message: `config reloaded: ${next.agents.length} agents, ${next.issues.length} issues`,
      });
      void this.#supervisor.apply(next).then(() => this.#leases?.nudge());
    });
    this.#leases?.start();
    this.#outbox.start();
    this.#guard.start();
    this.#pollLoop = this.#poll();
  }

  /**
   * The one poll loop. While the marketplace is down the poll is the runner's single
   * probe (one attempt, backing off up to the heartbeat interval); the first answer
   * ends the outage and the jobs of that poll are dispatched at once. Polls start one
   * interval apart, however long a poll's round took (its bids, its ledger writes), and
   * never closer.
   */
  async #poll(): Promise<void> {
    let failures = 0;
    while (!this.#stop.signal.aborted) {
      const started = Date.now();
      const endTimer = this.metrics.pollDuration.startTimer();
      this.#agentIds = undefined;
      try {
        const page = await this.#feed.poll(this.#stop.signal, {
          attempts: this.#health.up ? undefined : 1,
        });
        if (failures > 0) this.#log.info({ failures }, "marketplace reachable again");
        failures = 0;
        this.#health.ok();
        this.#marketplaceReachable = true;
        this.#lastMarketplaceOk = new Date().toISOString();
        await this.#dispatch(page);
        if (page.negotiating) await this.#answerOffers(page.negotiating);
        await this.#money.poll(this.#stop.signal).catch((error: unknown) => {
          if (!this.#stop.signal.aborted)
            this.#log.debug(
              { problem: errorMessage(error) },
              "negotiation and payment check failed; tried again at the next poll",
            );
        });
        endTimer();
      } catch (error) {
        if (this.#stop.signal.aborted) break;
        failures++;
        this.#health.failed(error);
        this.#marketplaceReachable = false;
        // Said once per outage, not at every retry.
        if (failures === 1)
          this.#log.warn(
            { url: this.config.bazaarApiUrl, problem: errorMessage(error) },
            "marketplace unreachable; backing off",
          );
      }
      const wait = this.#health.up
        ? failures === 0
          ? Math.max(0, this.#pollInterval() - (Date.now() - started))
          : backoffDelay(failures, {
              baseMs: 500,
              capMs: this.config.pollIntervalMs,
              jitter: "equal",
            })
        : this.#health.probeDelay();
      await sleep(wait, this.#stop.signal).catch(() => undefined);
    }
  }

  /** One dispatch at a time (polls and hints), so no job is taken up twice. */
  #dispatch(page: FeedPage): Promise<void> {
    const run = this.#dispatching.then(() => this.#supervisor.dispatch(page, this.#feed));
    this.#dispatching = run.catch(() => undefined);
    return run;
  }

  /** Counter-offers on bids of ours in jobs no listing shows (found by the feed's look-ups). */
  async #answerOffers(jobs: JobWithBids[]): Promise<void> {
    for (const job of jobs) {
      for (const worker of this.#supervisor.workers) {
        if (!job.bids.some((bid) => bid.agent_id === worker.agentId)) continue;
        await worker.answerOffers(job).catch((error: unknown) => {
          worker.telemetry.error("answering a counter-offer failed", error, job.job_id);
        });
      }
    }
  }

  /** Whether the agent id is one of this runner's running agents. */
  isOurAgent(agentId: string): boolean {
    return this.#ourAgentIds().has(agentId);
  }

  /** A webhook notification: followed at once by the HintFollower (push.ts). */
  hint(hint: WebhookHint): void {
    this.#hints.follow(hint);
  }

  #pollInterval(): number {
    return pollIntervalFor(this.config.pollIntervalMs, this.#hints.lastHintAt, Date.now());
  }

  #ourAgentIds(): ReadonlySet<string> {
    this.#agentIds ??= new Set(
      this.#supervisor.workers.flatMap((w) => (w.agentId ? [w.agentId] : [])),
    );
    return this.#agentIds;
  }

  /** Keeps the per-agent result counters and the timeline in step with the outbox. */
  #onSubmitted(entry: LedgerEntry, outcome: SubmitOutcome): void {
    const worker = this.#supervisor.workers.find((w) => w.agentId === entry.agentId);
    if (!worker) return;
    if (outcome.kind === "accepted") {
      worker.telemetry.resultAccepted(entry.jobId, entry.result?.success ?? false);
      if (entry.result?.success) this.#money.expectPayment(entry.jobId, entry.agentId);
    } else if (outcome.kind === "closed")
      worker.telemetry.resultRefused(entry.jobId, outcome.reason);
  }

  get workers(): AgentWorker[] {
    return this.#supervisor.workers;
  }

  // StatusSource

  async snapshot(): Promise<StatusSnapshot> {
    let ledger: StatusSnapshot["ledger"] = null;
    try {
      ledger = await this.ledger.summary();
    } catch {
      ledger = null;
    }
    return {
      startedAt: this.#startedAt,
      now: new Date().toISOString(),
      marketplace: {
        url: this.config.bazaarApiUrl,
        embedded: this.#embedded,
        reachable: this.#marketplaceReachable,
        lastOkAt: this.#lastMarketplaceOk,
      },
      config: {
        source: this.#source.kind,
        loaded: this.#configLoaded,
        ...this.#source.status(),
        issues: this.#supervisor.issues,
      },
      ledger,
      llm: { configured: this.llm.configured, baseUrl: this.config.llmBaseUrl },
      agents: this.tracker.views(),
      replica: this.#replicaStatus(),
    };
  }

  #replicaStatus(): ReplicaStatus {
    return {
      id: this.config.replicaId,
      agents: this.#supervisor.workers.map((w) => w.spec.config.name),
      others: this.#leases?.others() ?? [],
    };
  }

  decisions(jobId?: string): DecisionRecord[] {
    return jobId === undefined ? this.#decisions.recent() : this.#decisions.forJob(jobId);
  }

  recentEvents(limit?: number): RunnerEvent[] {
    return this.tracker.recent(limit);
  }

  onEvent(listener: (event: RunnerEvent) => void): () => void {
    return this.tracker.onEvent(listener);
  }

  ready(): { ready: boolean; reasons: string[] } {
    const reasons: string[] = [];
    if (!this.#configLoaded) reasons.push("agent configs not loaded");
    if (!this.#marketplaceReachable)
      reasons.push(`marketplace at ${this.config.bazaarApiUrl} not reachable`);
    if (this.#stop.signal.aborted) reasons.push("shutting down");
    return { ready: reasons.length === 0, reasons };
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
    this.#log.info(
      { graceMs: this.config.shutdownGraceMs },
      "shutting down: no more bids, finishing in-flight jobs",
    );
    this.#leases?.beginLeaving();
    this.#stop.abort();
    await this.#pollLoop;
    await this.#guard.stop();
    await this.#supervisor.stopAll();
    this.#heartbeatClock.close();
    await this.#outbox.flush();
    await this.#outbox.close();
    // The agents drained: their leases go now, so other replicas take them at once.
    await this.#leases?.stop();
    await this.#source.close();
    const pending = await this.ledger.pendingResults().catch(() => []);
    if (pending.length > 0)
      this.#log.warn(
        { results: pending.length },
        "results not yet accepted stay in the ledger for the next start",
      );
    await this.ledger.close();
    await this.#mongo?.close();
    await this.#ownedPool?.close();
    this.#stateLock?.release();
    this.#log.info("runner stopped");
  }
}
