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
import { createMetrics, type Metrics } from "../metrics.ts";
import { createSharedPool } from "../pool.ts";
import { redactUri, registerSecret, registerUriSecrets } from "../secrets.ts";
import { openLedger } from "../state/index.ts";
import { openLeaseStore } from "../state/leases.ts";
import { lockStateDir, type StateDirLock } from "../state/state-dir-lock.ts";
import type { Ledger, LedgerEntry } from "../state/types.ts";
import { AgentWallets } from "../wallet/agent-wallets.ts";
import { resolveWalletSetup, type WalletSetup } from "../wallet/setup.ts";
import { pricingDeps } from "./bidding/agent-pricing.ts";
import { SpendCaps } from "./bidding/spend-caps.ts";
import { Outbox, type SubmitOutcome } from "./delivery/outbox.ts";
import { JobFeed } from "./feed/job-feed.ts";
import { MarketplaceHealth } from "./feed/marketplace-health.ts";
import { HintFollower, pollIntervalFor, webhookUrl } from "./feed/webhook-hints.ts";
import type { AgentWorker } from "./fleet/agent-worker.ts";
import { Supervisor } from "./fleet/supervisor.ts";
import { FleetDispatch } from "./fleet-dispatch.ts";
import { MoneyWatch } from "./negotiation/money-watch.ts";
import { PollLoop } from "./poll-loop.ts";
import { AgentGuard, guardPeriodMs } from "./presence/agent-guard.ts";
import { HeartbeatClock, heartbeatTickMs } from "./presence/heartbeat-clock.ts";
import { Registrar } from "./presence/registration-queue.ts";
import { KeylessAgents } from "./presence/wallet-migration.ts";
import { LeaseKeeper } from "./replicas/lease-keeper.ts";
import { RunnerStatus } from "./status-source.ts";
import { DecisionLog } from "./telemetry/decision-log.ts";
import { openEarnings } from "./telemetry/earnings.ts";
import { StatusTracker } from "./telemetry/status-tracker.ts";

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
 * What start-up opens before any part is built: the clients, the ledger and the agent
 * configs' source, and what holds them (the pool, MongoDB, the state directory's lock).
 */
export interface RunnerResources {
  config: RunnerConfig;
  logger: Logger;
  metrics: Metrics;
  client: MarketplaceClient;
  llm: LlmClient;
  ledger: Ledger;
  source: ConfigSource;
  walletSetup: WalletSetup;
  /** The shared pool when the runner created it (and so closes it). */
  ownedPool: Dispatcher | undefined;
  mongo: MongoClient | undefined;
  /** Without MongoDB: this process's hold on RUNNER_STATE_DIR. */
  stateLock: StateDirLock | undefined;
}

/**
 * Opens the runner's resources; on failure (MongoDB unreachable, configs unreadable,
 * the state directory another process's) releases whatever it had opened, and throws.
 */
export async function openResources(options: RunnerOptions): Promise<RunnerResources> {
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
  } catch (error) {
    await releaseResources({ ownedPool, mongo, ledger, source, stateLock });
    throw error;
  }
  return {
    config,
    logger,
    metrics,
    client,
    llm,
    ledger,
    source,
    walletSetup,
    ownedPool,
    mongo,
    stateLock,
  };
}

/** Releases what start-up opened, in reverse order, when start-up fails after opening it. */
export async function releaseResources(
  opened: Partial<Pick<RunnerResources, "source" | "ledger" | "mongo" | "ownedPool" | "stateLock">>,
): Promise<void> {
  await opened.source?.close().catch(() => undefined);
  await opened.ledger?.close().catch(() => undefined);
  await opened.mongo?.close().catch(() => undefined);
  await opened.ownedPool?.close().catch(() => undefined);
  opened.stateLock?.release();
}

/** Every part of a runner, wired together; nothing runs until the runner starts them. */
export interface RunnerParts {
  tracker: StatusTracker;
  wallets: AgentWallets;
  sessions: Sessions;
  health: MarketplaceHealth;
  heartbeatClock: HeartbeatClock;
  outbox: Outbox;
  supervisor: Supervisor;
  /** Puts back what somebody else changed in our agents' marketplace documents. */
  guard: AgentGuard;
  /** With MongoDB: the agents are shared with other replicas through leases. */
  leases: LeaseKeeper | undefined;
  /** Webhook notifications: hints, followed at once (each job and event once for a while). */
  hints: HintFollower;
  fleet: FleetDispatch;
  polls: PollLoop;
  status: RunnerStatus;
}

/**
 * Builds the runner's parts over its resources and wires them to each other. `stopping`
 * is the runner's shutdown signal: the poll loop and the hints end with it.
 */
export function composeRunner(
  resources: RunnerResources,
  options: { embedded: boolean; outboxIntervalMs?: number; stopping: AbortSignal },
): RunnerParts {
  const { config, logger, metrics, client, llm, ledger, source, mongo } = resources;
  const { stopping } = options;
  const tracker = new StatusTracker();
  const decisions = new DecisionLog();
  const health = new MarketplaceHealth({ maxProbeDelayMs: config.heartbeatIntervalMs });
  const heartbeatClock = new HeartbeatClock({
    tickMs: heartbeatTickMs(config.heartbeatIntervalMs),
  });
  const webhook = webhookUrl(config.publicUrl);
  const up = () => health.up && !stopping.aborted;
  // The parts below and the workers refer to each other; each reference is followed
  // only once the runner runs, after all of them are built.
  const workers = (): AgentWorker[] => supervisor.workers;

  const feed: JobFeed = new JobFeed({
    client,
    logger,
    metrics,
    ledger,
    ourAgents: (): ReadonlySet<string> => fleet.ourAgentIds(),
    pollIntervalMs: config.pollIntervalMs,
    decisions,
  });
  const outbox: Outbox = new Outbox({
    client,
    ledger,
    logger,
    metrics,
    intervalMs: options.outboxIntervalMs,
    ...(mongo ? { owns: (agentId: string): boolean => supervisor.runsAgent(agentId) } : {}),
    onOutcome: (entry, outcome) => resultAnswered(workers(), money, entry, outcome),
  });
  const wallets = new AgentWallets(resources.walletSetup, ledger, config.ownerId);
  const sessions = new Sessions({ transport: client.transport, logger });
  const negotiation = new NegotiationApi(client.transport);
  const money = new MoneyWatch({
    client,
    negotiation,
    ledger,
    logger,
    agents: workers,
    offersPossible: () => feed.bidLeftPosted,
  });
  const registrar = new Registrar(client, config.ownerId, config.defaultModel, webhook);
  const supervisor: Supervisor = new Supervisor(
    {
      client,
      llm,
      ledger,
      registrar,
      webhookUrl: webhook,
      outbox,
      tracker,
      decisions,
      logger,
      metrics,
      heartbeatIntervalMs: config.heartbeatIntervalMs,
      heartbeatClock,
      health,
      pollIntervalMs: config.pollIntervalMs,
      defaultModel: config.defaultModel,
      llmPrices: config.llmPrices,
      ...(config.quality ? { quality: config.quality } : {}),
      wallets,
      sessions,
      negotiation,
      spendCaps: new SpendCaps(ledger, {
        agentCapUsd: config.agentDailySpendUsd,
        runnerCapUsd: config.runnerDailySpendUsd,
      }),
      minMargin: config.minMargin,
      pricing: pricingDeps(config, ledger),
      onRegistered: source.writeBack
        ? (spec, registration) =>
            source.writeBack!(spec, {
              agent_id: registration.agentId,
              wallet_address: registration.walletAddress,
            })
        : undefined,
      checkForeignHeartbeats: !mongo,
      keyless: new KeylessAgents(client),
    },
    config.shutdownGraceMs,
    { leased: mongo !== undefined },
  );
  const fleet: FleetDispatch = new FleetDispatch({ supervisor, feed });
  const hints = new HintFollower({
    client,
    logger,
    isOurAgent: (agentId) => fleet.isOurAgent(agentId),
    dispatch: (page) => fleet.dispatch(page),
    assignedHint: (jobId) => feed.hintAssigned(jobId),
    following: up,
    signal: stopping,
  });
  const guard = new AgentGuard({
    client,
    sessions,
    wallets,
    registrar,
    webhookUrl: webhook,
    agents: workers,
    logger,
    periodMs: guardPeriodMs(config.heartbeatIntervalMs),
    up,
  });
  const leases = mongo
    ? new LeaseKeeper({
        store: openLeaseStore({
          client: mongo,
          dbName: config.mongodbDb,
          replicaId: config.replicaId,
          ttlMs: config.leaseTtlMs,
        }),
        supervisor,
        logger,
        metrics,
      })
    : undefined;
  const polls = new PollLoop({
    feed,
    health,
    metrics,
    logger,
    marketplaceUrl: config.bazaarApiUrl,
    pollIntervalMs: config.pollIntervalMs,
    interval: () => pollIntervalFor(config.pollIntervalMs, hints.lastHintAt, Date.now()),
    fleet,
    money,
    signal: stopping,
  });
  const status = new RunnerStatus({
    config,
    embedded: options.embedded,
    ledger,
    llm,
    source,
    supervisor,
    tracker,
    decisions,
    marketplace: polls,
    ...(leases ? { leases } : {}),
    stopping,
    earnings: openEarnings({
      outcomes: ledger,
      pollIntervalMs: config.pollIntervalMs,
      metrics,
      logger,
      agents: () => supervisor.workers.map((w) => w.agentId),
    }),
  });
  return {
    tracker,
    wallets,
    sessions,
    health,
    heartbeatClock,
    outbox,
    supervisor,
    guard,
    leases,
    hints,
    fleet,
    polls,
    status,
  };
}

/** Keeps the per-agent result counters and the timeline in step with the outbox. */
function resultAnswered(
  workers: readonly AgentWorker[],
  money: Pick<MoneyWatch, "expectPayment">,
  entry: LedgerEntry,
  outcome: SubmitOutcome,
): void {
  const worker = workers.find((w) => w.agentId === entry.agentId);
  if (!worker) return;
  if (outcome.kind === "accepted") {
    worker.telemetry.resultAccepted(entry.jobId, entry.result?.success ?? false);
    if (entry.result?.success) money.expectPayment(entry.jobId, entry.agentId);
  } else if (outcome.kind === "closed") worker.telemetry.resultRefused(entry.jobId, outcome.reason);
}
