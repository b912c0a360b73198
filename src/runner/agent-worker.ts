import { type BaseAgentExecutor, DEFAULT_MAX_TOKENS } from "../agents/base-executor.ts";
import { createExecutor } from "../agents/registry.ts";
import type { ExecutorContext } from "../agents/types.ts";
import type { AgentSpec } from "../config-sources/types.ts";
import type { LlmClient } from "../llm/types.ts";
import type { Logger } from "../logger.ts";
import { isOwnershipError, type Sessions, type Signer } from "../marketplace/auth.ts";
import type { MarketplaceClient } from "../marketplace/client.ts";
import { isMarketplaceError } from "../marketplace/errors.ts";
import type { NegotiationApi } from "../marketplace/negotiation-api.ts";
import type { Job, JobWithBids } from "../marketplace/schemas.ts";
import { parseTime } from "../marketplace-server/time.ts";
import type { Metrics } from "../metrics.ts";
import { backoffDelay, sleep } from "../retry.ts";
import { isStaleEpoch } from "../state/fence.ts";
import type { Ledger } from "../state/types.ts";
import type { AgentWallet, AgentWallets } from "../wallet/agent-wallets.ts";
import { sameAddress } from "../wallet/keys.ts";
import type { BidDecision, PlaceDecision } from "./bid-decision.ts";
import { Bidder, type BidIntent, type RoundBids } from "./bidder.ts";
import type { DecisionLog } from "./decision-log.ts";
import type { MarketplaceHealth } from "./health.ts";
import { executeWonJob } from "./job-execution.ts";
import type { JobFeed } from "./job-feed.ts";
import { answerLatestOffer } from "./offer-answering.ts";
import type { Outbox } from "./outbox.ts";
import { applyFloor, type Floor, priceFloor } from "./price-floor.ts";
import type { Registrar, Registration } from "./registrar.ts";
import type { SpendCaps } from "./spend-caps.ts";
import type { AgentStats, StatusTracker } from "./status-tracker.ts";
import type { WorkerState } from "./status-types.ts";
import { AgentTelemetry } from "./telemetry.ts";
import type { Tenure } from "./tenure.ts";
import { findKeylessAgent, registeredKeyless, retireKeylessAgent } from "./wallet-migration.ts";

export interface WorkerDeps {
  client: MarketplaceClient;
  llm: LlmClient;
  ledger: Ledger;
  registrar: Registrar;
  outbox: Outbox;
  tracker: StatusTracker;
  logger: Logger;
  metrics?: Metrics;
  /** Where each agent's per-job decisions are kept for GET /api/decisions. */
  decisions?: DecisionLog;
  heartbeatIntervalMs: number;
  /** PUBLIC_URL's webhook endpoint: an agent registered before is pointed at it. */
  webhookUrl?: string;
  /** The shared view of the marketplace's health: no heartbeats while it is down. */
  health?: MarketplaceHealth;
  /**
   * The runner's poll interval: the longest one poll waits for this agent's bid
   * decisions.
   */
  pollIntervalMs: number;
  /** Longest an executor's evaluateJob may take before the job is given up on (default 60 s). */
  evaluationTimeoutMs?: number;
  defaultModel: string;
  /** USD per million tokens, by model. */
  llmPrices: Record<string, number>;
  /** Called once after the runner registered an agent that had no agent_id. */
  onRegistered?: (spec: AgentSpec, registration: Registration) => Promise<void>;
  /** Each agent's wallet: a key the runner holds, or a payout-only address. */
  wallets: AgentWallets;
  /** Sign-in sessions, one per wallet. */
  sessions: Sessions;
  negotiation: NegotiationApi;
  spendCaps: SpendCaps;
  /** AGENT_MIN_MARGIN. */
  minMargin: number;
  /**
   * Without leases (no MongoDB): look at the agent's `last_active` before its first
   * heartbeat and warn when someone else heartbeated it within the last interval.
   */
  checkForeignHeartbeats?: boolean;
}

const DEFAULT_MAX_CONCURRENT = 2;
const DEFAULT_EVALUATION_TIMEOUT_MS = 60_000;

/**
 * One agent's lifecycle: registering → running → draining → stopped. It owns the
 * agent's registration, heartbeat timer, in-flight jobs and their concurrency limit;
 * bidding is its Bidder's, executing a won job is executeWonJob's, and everything the
 * operator sees goes through its AgentTelemetry. Every failure is contained here:
 * logged, counted, and the next poll goes on.
 */
export class AgentWorker {
  readonly key: string;
  #spec: AgentSpec;
  #executor: BaseAgentExecutor;
  readonly #deps: WorkerDeps;
  readonly #telemetry: AgentTelemetry;
  readonly #bidder: Bidder;
  #agentId: string | undefined;
  #state: WorkerState = "registering";
  readonly #inFlight = new Map<string, Promise<void>>();
  #heartbeatTimer: NodeJS.Timeout | undefined;
  #heartbeatDelay: NodeJS.Timeout | undefined;
  #unsubscribeRecovery: (() => void) | undefined;
  /** Aborted when the worker is forced to stop: registration and executions end. */
  readonly #lifetime = new AbortController();
  #started: Promise<void> | undefined;
  /** Cuts short the backoff of a registration that failed for want of the marketplace. */
  #registrationWake: AbortController | undefined;
  /** True when this runner registered the agent (no agent_id in its config). */
  #selfRegistered = false;
  #reregistering = false;
  #wallet: AgentWallet | undefined;
  /** Set after a 403 "You don't own this agent": heartbeats go without a token from then on. */
  #ownershipRefused = false;
  /** This replica's lease on the agent; undefined without replicas (no MongoDB). */
  readonly #tenure: Tenure | undefined;

  constructor(spec: AgentSpec, deps: WorkerDeps, tenure?: Tenure) {
    this.key = spec.key;
    this.#tenure = tenure;
    this.#spec = spec;
    this.#deps = deps;
    this.#executor = createExecutor(spec.config);
    this.#agentId = spec.config.agent_id;
    this.#telemetry = new AgentTelemetry(spec, this.#maxConcurrent, deps);
    this.#bidder = new Bidder({
      client: deps.client,
      ledger: deps.ledger,
      telemetry: this.#telemetry,
      pollIntervalMs: deps.pollIntervalMs,
      evaluationTimeoutMs: deps.evaluationTimeoutMs ?? DEFAULT_EVALUATION_TIMEOUT_MS,
      lifetime: this.#lifetime.signal,
    });
  }

  get spec(): AgentSpec {
    return this.#spec;
  }
  get agentId(): string | undefined {
    return this.#agentId;
  }
  get state(): WorkerState {
    return this.#state;
  }
  get stats(): AgentStats {
    return this.#telemetry.stats;
  }
  get telemetry(): AgentTelemetry {
    return this.#telemetry;
  }
  get inFlightCount(): number {
    return this.#inFlight.size;
  }
  get #maxConcurrent(): number {
    return this.#spec.config.max_concurrent_jobs ?? DEFAULT_MAX_CONCURRENT;
  }
  get #accepting(): boolean {
    return this.#state === "running" && !this.#tenure?.lost;
  }
  /** New bids need the lease to have time left; won jobs are finished regardless. */
  get #bidding(): boolean {
    return this.#accepting && (this.#tenure?.mayBid() ?? true);
  }

  /** Registers if needed, then heartbeats. Resolves once running (or stopped first). */
  start(): Promise<void> {
    this.#started ??= this.#start();
    return this.#started;
  }

  get wallet(): AgentWallet | undefined {
    return this.#wallet;
  }

  async #start(): Promise<void> {
    const wallet = await this.#untilDone("wallet lookup failed", () =>
      this.#deps.wallets.resolve(this.key, this.#spec.config),
    );
    if (!wallet) return;
    this.#wallet = wallet;
    this.#telemetry.walletResolved(wallet);
    const legacy = this.#deps.wallets.legacyAddress(this.#spec.config.name);
    const migrating = !sameAddress(wallet.address, legacy);
    let retired: string | undefined;
    if (
      this.#agentId &&
      migrating &&
      (await registeredKeyless(this.#agentId, legacy, this.#migration))
    ) {
      retired = this.#agentId;
      this.#agentId = undefined;
    }
    if (!this.#agentId) {
      const registration = await this.#registerUntilDone(wallet.address);
      if (!registration) return;
      this.#agentId = registration.agentId;
      this.#selfRegistered = true;
      await this.#deps.onRegistered?.(this.#spec, registration).catch((error: unknown) => {
        this.#telemetry.warn("could not write the agent_id back to the config source", error);
      });
      if (migrating)
        retired ??= await findKeylessAgent(legacy, registration.agentId, this.#migration);
    }
    if (retired) await retireKeylessAgent(retired, this.#agentId, wallet.address, this.#migration);
    // An agent registered earlier (or elsewhere) is switched over to notifications;
    // one this runner just registered asked for them at registration.
    if (this.#deps.webhookUrl && !this.#selfRegistered) await this.#useWebhook(this.#agentId!);
    if (this.#tenure) await this.#raiseFence(this.#agentId!, this.#tenure.epoch);
    else if (this.#deps.checkForeignHeartbeats) await this.#checkForeignHeartbeat(this.#agentId!);
    await this.#restoreTotals(this.#agentId!);
    if (this.#lifetime.signal.aborted || this.#state !== "registering") return;
    this.#setState("running");
    this.#telemetry.started(this.#agentId!);
    // Spread over the interval, so that many agents do not heartbeat together.
    const interval = this.#deps.heartbeatIntervalMs;
    this.#scheduleHeartbeats(Math.floor(Math.random() * Math.min(interval, 10_000)));
    this.#unsubscribeRecovery = this.#deps.health?.onRecovered(() => {
      // After an outage: resume within a few seconds, each agent at its own moment.
      if (this.#state === "running") this.#scheduleHeartbeats(this.#deps.health!.recoveryDelay());
    });
  }

  /** The first heartbeat after `delayMs`, then one every interval. */
  #scheduleHeartbeats(delayMs: number): void {
    this.#stopHeartbeats();
    this.#heartbeatDelay = setTimeout(() => {
      void this.heartbeat();
      this.#heartbeatTimer = setInterval(
        () => void this.heartbeat(),
        this.#deps.heartbeatIntervalMs,
      );
      this.#heartbeatTimer.unref();
    }, delayMs);
    this.#heartbeatDelay.unref();
  }

  #stopHeartbeats(): void {
    clearTimeout(this.#heartbeatDelay);
    clearInterval(this.#heartbeatTimer);
  }

  async #useWebhook(agentId: string): Promise<void> {
    const fields = { webhook_url: this.#deps.webhookUrl };
    // Signed in as the heartbeat is: the service lets only the agent's owner change it.
    const signer = this.#heartbeatSigner();
    try {
      if (signer)
        await this.#deps.sessions.withSession(signer, (token) =>
          this.#deps.client.updateAgent(agentId, fields, token),
        );
      else await this.#deps.client.updateAgent(agentId, fields);
    } catch (error) {
      // Polling still finds every job; notifications only make it quicker.
      this.#telemetry.warn("could not point the agent's webhook_url at this runner", error);
    }
  }

  /** Retries a start-up step (a ledger read) with backoff until it works or the worker stops. */
  async #untilDone<T>(what: string, step: () => Promise<T>): Promise<T | undefined> {
    for (let attempt = 1; !this.#lifetime.signal.aborted; attempt++) {
      try {
        return await step();
      } catch (error) {
        this.#telemetry.error(what, error);
        await sleep(
          backoffDelay(attempt, { baseMs: 1000, capMs: 60_000 }),
          this.#lifetime.signal,
        ).catch(() => undefined);
      }
    }
    return undefined;
  }

  get #migration() {
    return { client: this.#deps.client, ledger: this.#deps.ledger, telemetry: this.#telemetry };
  }

  /**
   * Before acting as the agent's new holder: no ledger write of an older holder lands
   * after this. Retried while MongoDB is away; a newer epoch means the lease is gone.
   */
  async #raiseFence(agentId: string, epoch: number): Promise<void> {
    for (let attempt = 1; !this.#lifetime.signal.aborted; attempt++) {
      try {
        await this.#deps.ledger.raiseFence(agentId, epoch);
        return;
      } catch (error) {
        if (isStaleEpoch(error)) {
          this.abandon("a newer lease epoch exists");
          return;
        }
        this.#telemetry.error("raising the ledger fence failed", error);
        await sleep(
          backoffDelay(attempt, { baseMs: 500, capMs: 5000 }),
          this.#lifetime.signal,
        ).catch(() => undefined);
      }
    }
  }

  /** Someone heartbeated this agent within the last interval: another runner may run it. */
  async #checkForeignHeartbeat(agentId: string): Promise<void> {
    try {
      const agent = await this.#deps.client.getAgent(agentId);
      // Registration stamps last_active too: equal to created_at, nobody heartbeated it.
      if (!agent.last_active || agent.last_active === agent.created_at) return;
      const age = Date.now() - parseTime(agent.last_active).getTime();
      if (Number.isFinite(age) && age >= 0 && age < this.#deps.heartbeatIntervalMs)
        this.#telemetry.foreignHeartbeat(agent.last_active);
    } catch {
      // Only a warning is at stake; the first heartbeat reports real trouble.
    }
  }

  async #restoreTotals(agentId: string): Promise<void> {
    try {
      this.#telemetry.restoreTotals(await this.#deps.ledger.agentTotals(agentId));
    } catch (error) {
      this.#telemetry.error("reading the agent's totals from the ledger failed", error);
    }
  }

  async #registerUntilDone(walletAddress: string): Promise<Registration | undefined> {
    for (let attempt = 1; !this.#lifetime.signal.aborted; attempt++) {
      try {
        const registration = await this.#deps.registrar.register(
          this.#spec.config,
          walletAddress,
          this.#lifetime.signal,
        );
        this.#telemetry.registered(registration.agentId, registration.walletAddress);
        return registration;
      } catch (error) {
        if (this.#lifetime.signal.aborted) return undefined;
        this.#telemetry.error("registration failed", error);
        // A refused registration (4xx) waits out its backoff; one that failed because
        // the marketplace was away is retried as soon as a poll reaches it again.
        const refused = isMarketplaceError(error) && error.isClientError;
        const wake = new AbortController();
        if (!refused) this.#registrationWake = wake;
        await sleep(
          backoffDelay(attempt, { baseMs: 1000, capMs: 60_000 }),
          AbortSignal.any([this.#lifetime.signal, wake.signal]),
        ).catch(() => undefined);
        this.#registrationWake = undefined;
      }
    }
    return undefined;
  }

  /** Applies a changed config in place: rates and keywords at the next evaluation, model and prompt at the next execution. */
  update(spec: AgentSpec): void {
    const typeChanged = spec.config.agent_type !== this.#spec.config.agent_type;
    this.#spec = spec;
    if (typeChanged) this.#executor = createExecutor(spec.config);
    if (spec.config.agent_id && !this.#agentId) this.#agentId = spec.config.agent_id;
    this.#bidder.reset();
    this.#telemetry.configUpdated(spec, this.#maxConcurrent);
  }

  async heartbeat(status?: "offline"): Promise<void> {
    const agentId = this.#agentId;
    if (!agentId) return;
    // Paused while the marketplace is down: the runner's one probe finds when it is back.
    const health = this.#deps.health;
    if (health && !health.up && status !== "offline") return;
    const busy = this.#inFlight.size >= this.#maxConcurrent;
    const body = {
      status: status ?? (busy ? ("busy" as const) : ("available" as const)),
      current_capacity: Math.max(0, this.#maxConcurrent - this.#inFlight.size),
      metadata: {
        runner: "bazaar-runner",
        agent_type: this.#spec.config.agent_type,
        jobs_in_flight: this.#inFlight.size,
      },
    };
    const signer = this.#ownershipRefused ? undefined : this.#heartbeatSigner();
    try {
      if (signer)
        await this.#deps.sessions.withSession(signer, (token) =>
          this.#deps.client.heartbeat(agentId, body, undefined, token),
        );
      else await this.#deps.client.heartbeat(agentId, body);
      health?.ok();
      this.#telemetry.heartbeatSent(body.status);
    } catch (error) {
      health?.failed(error);
      if (isOwnershipError(error)) {
        // A configuration error (AGENT_OWNER_ID or the wallet is not this agent's): said once, not retried.
        this.#ownershipRefused = true;
        this.#telemetry.configurationError(
          `the marketplace says the signed-in wallet ${signer?.address} does not own agent ${agentId}; check AGENT_OWNER_ID and the agent's wallet_address — heartbeats continue unauthenticated and negotiation is off`,
        );
        return;
      }
      this.#telemetry.heartbeatFailed(error);
      if (isMarketplaceError(error, 404) && status !== "offline") await this.#reregister(agentId);
    }
    if (status !== "offline") void this.#checkSpendCap();
  }

  /** One sign-in per owner when AGENT_OWNER_ID is a wallet the runner holds; else per agent wallet. */
  #heartbeatSigner(): Signer | undefined {
    return this.#deps.wallets.ownerAccount ?? this.#wallet?.account;
  }

  async #checkSpendCap(): Promise<string | null> {
    const reached = await this.#deps.spendCaps.check(this.key).catch(() => null);
    this.#telemetry.spendCap(reached);
    return reached;
  }

  /** The job's price floor for this agent: estimated LLM cost × margin, at least min_price_usd. */
  floorFor(job: Job): Floor {
    const config = this.#spec.config;
    const type = this.#executor.constructor as typeof BaseAgentExecutor;
    return priceFloor(job, {
      expectedOutputTokens: Math.min(
        type.expectedOutputTokens ?? 1200,
        config.max_tokens ?? DEFAULT_MAX_TOKENS,
      ),
      usdPerMillionTokens: this.#deps.llmPrices[config.model ?? this.#deps.defaultModel],
      margin: this.#deps.minMargin,
      minPriceUsd: config.min_price_usd ?? 0,
    });
  }

  /** The spend caps and the price floor applied to a bid the executor wants to place. */
  async #price(job: Job, decision: PlaceDecision): Promise<BidDecision> {
    const capped = await this.#checkSpendCap();
    if (capped) return { kind: "skip", reason: "spend_cap", detail: capped };
    const floor = this.floorFor(job);
    const applied = applyFloor(decision.priceUsd, job.budget_usd ?? 0, floor.floorUsd);
    if (applied.kind === "below_floor")
      return { kind: "skip", reason: "below_floor", detail: applied.detail };
    return { ...decision, priceUsd: applied.priceUsd };
  }

  /** Answers the poster's latest counter-offer on this agent's bid of a job in negotiation. */
  async answerOffers(job: JobWithBids): Promise<void> {
    const agentId = this.#agentId;
    if (!agentId || this.#state !== "running") return;
    const bid = job.bids.find((b) => b.agent_id === agentId);
    if (!bid) return;
    const signer = this.#ownershipRefused ? undefined : this.#wallet?.account;
    await answerLatestOffer(agentId, job, bid, this.floorFor(job).floorUsd, signer, {
      ledger: this.#deps.ledger,
      sessions: this.#deps.sessions,
      negotiation: this.#deps.negotiation,
      telemetry: this.#telemetry,
    });
  }

  /**
   * The marketplace no longer knows an agent this runner registered (its database was
   * reset): register it again. Wallet idempotency gives back the same agent where it can.
   */
  async #reregister(lostId: string): Promise<void> {
    if (!this.#selfRegistered || this.#reregistering || this.#state !== "running") return;
    this.#reregistering = true;
    try {
      const registration = await this.#deps.registrar.register(
        this.#spec.config,
        this.#wallet?.address ?? "",
        this.#lifetime.signal,
      );
      this.#agentId = registration.agentId;
      this.#bidder.reset();
      this.#telemetry.reregistered(lostId, registration.agentId);
      await this.#deps.onRegistered?.(this.#spec, registration).catch(() => undefined);
    } catch (error) {
      this.#telemetry.error("re-registration failed", error);
    } finally {
      this.#reregistering = false;
    }
  }

  /** Decides on each biddable job once (gates, ledger, evaluation); returns the bids to place. */
  async decideBids(
    jobs: Job[],
    feed: JobFeed,
    known: RoundBids,
    complete = false,
  ): Promise<BidIntent[]> {
    const agentId = this.#agentId;
    if (!agentId || !this.#bidding) return [];
    return this.#bidder.decide(
      jobs,
      feed,
      {
        agentId,
        config: this.#spec.config,
        accepting: () => this.#bidding,
        ...(this.#tenure ? { epoch: this.#tenure.epoch } : {}),
        fenced: () => this.abandon("the ledger refused a bid: a newer lease epoch exists"),
        evaluate: (job, signal) => this.#executor.evaluateJob(job, this.#context(job, signal)),
        price: (job, decision) => this.#price(job, decision),
      },
      known,
      complete,
    );
  }

  /** Starts executing jobs assigned to this agent, up to its concurrency limit. */
  async takeAssigned(jobs: Job[]): Promise<void> {
    // Called after each poll that reached the marketplace: a registration waiting
    // out an outage goes now.
    this.#registrationWake?.abort();
    const agentId = this.#agentId;
    if (!agentId || !this.#accepting) return;
    for (const job of jobs) {
      if (job.assigned_agent_id !== agentId || this.#inFlight.has(job.job_id)) continue;
      if (this.#inFlight.size >= this.#maxConcurrent) break;
      const entry = await this.#deps.ledger.get(agentId, job.job_id);
      if (entry?.result) continue; // produced already: the outbox delivers it
      if (!entry?.wonAt) {
        await this.#deps.ledger.recordWon(agentId, job.job_id, this.#tenure?.epoch);
        // The agreed price: the accepted counter-offer's, else the bid's.
        this.#telemetry.jobWon(job, job.final_price_usd ?? entry?.bidPriceUsd ?? 0);
      }
      const running = executeWonJob(agentId, job, {
        ledger: this.#deps.ledger,
        outbox: this.#deps.outbox,
        telemetry: this.#telemetry,
        llmPrices: this.#deps.llmPrices,
        ...(this.#tenure ? { epoch: this.#tenure.epoch } : {}),
        lifetime: this.#lifetime.signal,
        execute: (j, context) => this.#executor.executeTask(j, context),
        context: (j, signal) => this.#context(j, signal),
        recordSpend: (usd) => this.#deps.spendCaps.record(this.key, usd),
      })
        .catch((error: unknown) => {
          if (isStaleEpoch(error))
            this.abandon("the ledger refused a write: a newer lease epoch exists");
          else this.#telemetry.error("execution failed", error, job.job_id);
        })
        .finally(() => {
          this.#inFlight.delete(job.job_id);
          this.#telemetry.inFlight(this.#inFlight.size);
        });
      this.#inFlight.set(job.job_id, running);
      this.#telemetry.inFlight(this.#inFlight.size);
      if (this.#inFlight.size >= this.#maxConcurrent) void this.heartbeat();
    }
  }

  #context(job: Job, signal: AbortSignal): ExecutorContext {
    return {
      agent: this.#spec.config,
      agentId: this.#agentId ?? "",
      llm: this.#deps.llm,
      logger: this.#telemetry.log.child({ agentId: this.#agentId, jobId: job.job_id }),
      signal,
      defaultModel: this.#deps.defaultModel,
      files: this.#deps.client,
    };
  }

  #setState(state: WorkerState): void {
    this.#state = state;
    this.#telemetry.stateChanged(state);
  }

  /**
   * The lease is someone else's now: stop at once. In-flight executions are cut short
   * (their writes would be refused anyway; the new holder runs the jobs) and no
   * `offline` heartbeat is sent, since the agent runs on elsewhere.
   */
  abandon(reason: string): void {
    if (this.#state === "stopped") return;
    this.#tenure?.lose();
    clearInterval(this.#heartbeatTimer);
    this.#lifetime.abort(new Error("lease lost"));
    this.#setState("stopped");
    this.#telemetry.leaseLost(reason);
  }

  /**
   * Stops bidding, lets in-flight jobs finish for up to `graceMs`, then cuts the rest
   * short (they resume after a restart), heartbeats `offline` and stops.
   */
  async drain(graceMs: number): Promise<void> {
    if (this.#state === "stopped") {
      await Promise.allSettled([...this.#inFlight.values()]);
      return;
    }
    const wasRunning = this.#state === "running";
    this.#setState("draining");
    this.#stopHeartbeats();
    this.#unsubscribeRecovery?.();
    if (!wasRunning) this.#lifetime.abort(new Error("worker stopped"));
    const pending = [...this.#inFlight.values()];
    if (pending.length > 0) {
      this.#telemetry.drainWaiting(pending.length, graceMs);
      // The grace timer is cancelled when the jobs finish first, so it holds nothing open.
      const graceOver = new AbortController();
      const timeout = sleep(graceMs, graceOver.signal).then(
        () => "timeout" as const,
        () => "done" as const,
      );
      const finished = await Promise.race([
        Promise.allSettled(pending).then(() => "done" as const),
        timeout,
      ]);
      graceOver.abort();
      if (finished === "timeout") {
        this.#telemetry.drainCutShort(this.#inFlight.size);
        this.#lifetime.abort(new Error("shutdown"));
        await Promise.allSettled(pending);
      }
    }
    this.#lifetime.abort(new Error("worker stopped"));
    if (wasRunning) await this.heartbeat("offline");
    this.#setState("stopped");
    this.#telemetry.stopped();
  }
}
