import type { AgentSpec } from "../../agent-configs/types.ts";
import { isOwnershipError, type Sessions, type Signer } from "../../marketplace/auth.ts";
import type { MarketplaceClient } from "../../marketplace/client.ts";
import { isMarketplaceError } from "../../marketplace/errors.ts";
import type { AgentWallet, AgentWallets } from "../../wallet/agent-wallets.ts";
import { checkSpendCap } from "../bidding/agent-pricing.ts";
import type { SpendCaps } from "../bidding/spend-caps.ts";
import type { MarketplaceHealth } from "../feed/marketplace-health.ts";
import type { AgentTelemetry } from "../telemetry/agent-telemetry.ts";
import { foreignSinceRegistration, type StampedAgent } from "./foreign-heartbeat.ts";
import type { HeartbeatClock } from "./heartbeat-clock.ts";

/** One sign-in per owner when AGENT_OWNER_ID is a wallet the runner holds; else per agent wallet. */
export function sessionSigner(
  wallets: Pick<AgentWallets, "ownerAccount">,
  wallet: AgentWallet | undefined,
): Signer | undefined {
  return wallets.ownerAccount ?? wallet?.account;
}

/**
 * What heartbeats read of their agent: the worker's shared record of it (its id may
 * change on re-registration, so it is read at each heartbeat, never copied).
 */
export interface HeartbeatAgent extends StampedAgent {
  readonly spec: Pick<AgentSpec, "key" | "config">;
  readonly agentId: string | undefined;
  readonly wallet: AgentWallet | undefined;
}

/** What heartbeats use of the runner's shared parts (the worker hands its own deps). */
export interface HeartbeatContext {
  client: Pick<MarketplaceClient, "heartbeat" | "getAgent">;
  sessions: Pick<Sessions, "withSession">;
  wallets: Pick<AgentWallets, "ownerAccount">;
  /** The shared view of the marketplace's health: no heartbeats while it is down. */
  health?: Pick<MarketplaceHealth, "up" | "ok" | "failed" | "onRecovered" | "recoveryDelay">;
  spendCaps: SpendCaps;
  heartbeatIntervalMs: number;
  /** The one timer of every agent's heartbeats. */
  heartbeatClock: Pick<HeartbeatClock, "every">;
}

export interface HeartbeatsOptions {
  deps: HeartbeatContext;
  telemetry: AgentTelemetry;
  /** Jobs in flight and the agent's concurrency limit: its status and free capacity. */
  load: () => { inFlight: number; maxConcurrent: number };
  /** A 404 on a heartbeat (not an offline one): the marketplace lost the agent. */
  unknownAgent: (agentId: string) => Promise<void>;
  /** The place in its spread of the first heartbeat and of the agent's moment (default Math.random). */
  random?: () => number;
}

/**
 * One agent's heartbeats: their moments on the runner's heartbeat clock (spread so that
 * many agents do not heartbeat together, resumed after a marketplace outage) and sending
 * each one, signed in as the agent's owner. After each, the spend caps are checked, so
 * the dashboard shows a reached cap even while there is nothing to bid on.
 */
export class Heartbeats {
  readonly #agent: HeartbeatAgent;
  readonly #options: HeartbeatsOptions;
  #stopBeats: (() => void) | undefined;
  #unsubscribeRecovery: (() => void) | undefined;
  /** Set after a 403 "You don't own this agent": heartbeats go without a token from then on. */
  #ownershipRefused = false;
  /** The heartbeat on its way, if any. */
  #sending: Promise<void> | undefined;

  constructor(agent: HeartbeatAgent, options: HeartbeatsOptions) {
    this.#agent = agent;
    this.#options = options;
  }

  get ownershipRefused(): boolean {
    return this.#ownershipRefused;
  }

  /**
   * Heartbeats from now on: the first within the interval (at most 10 s); the second
   * half an interval to an interval later, which spreads agents started together over
   * the interval; then one every interval.
   */
  start(): void {
    const { deps } = this.#options;
    const random = this.#options.random ?? Math.random;
    this.#schedule(Math.floor(random() * Math.min(deps.heartbeatIntervalMs, 10_000)));
    const health = deps.health;
    // After an outage: resume within a few seconds, each agent at its own moment.
    this.#unsubscribeRecovery = health?.onRecovered(() => this.#schedule(health.recoveryDelay()));
  }

  /** No more timed heartbeats (an explicit send still goes). */
  close(): void {
    this.#stopTimers();
    this.#unsubscribeRecovery?.();
    this.#unsubscribeRecovery = undefined;
  }

  /** The first heartbeat after `delayMs`, then one every interval, the second sooner to spread. */
  #schedule(delayMs: number): void {
    this.#stopTimers();
    const { heartbeatIntervalMs: interval, heartbeatClock } = this.#options.deps;
    const random = this.#options.random ?? Math.random;
    const thenMs = Math.floor(interval * (1 - random() / 2));
    this.#stopBeats = heartbeatClock.every(delayMs, thenMs, interval, () => void this.send());
  }

  #stopTimers(): void {
    this.#stopBeats?.();
    this.#stopBeats = undefined;
  }

  /**
   * Sends one heartbeat: the agent's status and capacity, or `offline` when it stops.
   * Going offline waits for a heartbeat already on its way, so that `offline` is the
   * marketplace's last word (an `available` landing after it would keep the agent online).
   */
  async send(status?: "offline"): Promise<void> {
    if (status === "offline") await this.#sending;
    const sending = this.#sendNow(status);
    this.#sending = sending;
    try {
      await sending;
    } finally {
      if (this.#sending === sending) this.#sending = undefined;
    }
  }

  async #sendNow(status?: "offline"): Promise<void> {
    const agentId = this.#agent.agentId;
    if (!agentId) return;
    const { deps, telemetry } = this.#options;
    // Paused while the marketplace is down: the runner's one probe finds when it is back.
    const health = deps.health;
    if (health && !health.up && status !== "offline") return;
    // An agent this start registered: did somebody heartbeat it since? (once)
    if (this.#agent.registrationStamp !== undefined && status !== "offline")
      await foreignSinceRegistration(this.#agent, agentId, deps.client, telemetry);
    const { inFlight, maxConcurrent } = this.#options.load();
    const busy = inFlight >= maxConcurrent;
    const body = {
      status: status ?? (busy ? ("busy" as const) : ("available" as const)),
      current_capacity: Math.max(0, maxConcurrent - inFlight),
      metadata: {
        runner: "bazaar-runner",
        agent_type: this.#agent.spec.config.agent_type,
        jobs_in_flight: inFlight,
      },
    };
    const signer = this.#ownershipRefused
      ? undefined
      : sessionSigner(deps.wallets, this.#agent.wallet);
    try {
      if (signer)
        await deps.sessions.withSession(signer, (token) =>
          deps.client.heartbeat(agentId, body, undefined, token),
        );
      else await deps.client.heartbeat(agentId, body);
      health?.ok();
      telemetry.heartbeatSent(body.status);
    } catch (error) {
      health?.failed(error);
      if (isOwnershipError(error)) {
        // A configuration error (AGENT_OWNER_ID or the wallet is not this agent's): said once, not retried.
        this.#ownershipRefused = true;
        telemetry.configurationError(
          `the marketplace says the signed-in wallet ${signer?.address} does not own agent ${agentId}; check AGENT_OWNER_ID and the agent's wallet_address — heartbeats continue unauthenticated and negotiation is off`,
        );
        return;
      }
      telemetry.heartbeatFailed(error);
      if (isMarketplaceError(error, "BR_ERR_MARKETPLACE_NOT_FOUND") && status !== "offline") {
        telemetry.agentDeleted(agentId);
        await this.#options.unknownAgent(agentId);
      }
    }
    if (status !== "offline") void checkSpendCap(deps.spendCaps, this.#agent.spec.key, telemetry);
  }
}
