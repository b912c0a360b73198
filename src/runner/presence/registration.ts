import type { AgentSpec } from "../../agent-configs/types.ts";
import { isMarketplaceError } from "../../marketplace/errors.ts";
import { backoffDelay, sleep } from "../../retry.ts";
import type { AgentWallet } from "../../wallet/agent-wallets.ts";
import type { AgentTelemetry } from "../telemetry/agent-telemetry.ts";
import type { Registrar, Registration } from "./registration-queue.ts";

/**
 * What registering reads and writes of its agent: the worker's shared record of it. A
 * re-registration writes the new id there, where heartbeats and bidding read it.
 */
export interface RegisteringAgent {
  readonly spec: AgentSpec;
  agentId: string | undefined;
  readonly wallet: Pick<AgentWallet, "address"> | undefined;
  /** True when this runner registered the agent: only such an agent is registered again. */
  readonly selfRegistered: boolean;
}

/** What registering uses of the runner's shared parts. */
export interface RegistrationContext {
  registrar: Pick<Registrar, "register">;
  /** Called once after the runner registered an agent that had no agent_id. */
  onRegistered?: (spec: AgentSpec, registration: Registration) => Promise<void>;
}

export interface RegistrationDeps {
  deps: RegistrationContext;
  telemetry: AgentTelemetry;
  /** Aborted when the worker is forced to stop: no registration after that. */
  lifetime: AbortSignal;
}

/**
 * Registering one agent with the marketplace: at start-up, retried with backoff until
 * it works (woken early when a poll reaches a marketplace that was away), and again
 * when the marketplace no longer knows an agent this runner registered.
 */
export class AgentRegistration {
  readonly #agent: RegisteringAgent;
  readonly #r: RegistrationDeps;
  /** Cuts short the backoff of a registration that failed for want of the marketplace. */
  #wake: AbortController | undefined;
  #again = false;

  constructor(agent: RegisteringAgent, deps: RegistrationDeps) {
    this.#agent = agent;
    this.#r = deps;
  }

  /** Registers under the wallet until it works; undefined when the worker stopped first. */
  async untilDone(walletAddress: string): Promise<Registration | undefined> {
    const { deps, telemetry, lifetime } = this.#r;
    for (let attempt = 1; !lifetime.aborted; attempt++) {
      try {
        // The spec as it is now: a config changed while the marketplace was away counts.
        const registration = await deps.registrar.register(
          this.#agent.spec.config,
          walletAddress,
          lifetime,
        );
        telemetry.registered(registration.agentId, registration.walletAddress);
        return registration;
      } catch (error) {
        if (lifetime.aborted) return undefined;
        telemetry.error("registration failed", error);
        // A refused registration (4xx) waits out its backoff; one that failed because
        // the marketplace was away is retried as soon as a poll reaches it again.
        const refused = isMarketplaceError(error) && error.isClientError;
        const wake = new AbortController();
        if (!refused) this.#wake = wake;
        await sleep(
          backoffDelay(attempt, { baseMs: 1000, capMs: 60_000 }),
          AbortSignal.any([lifetime, wake.signal]),
        ).catch(() => undefined);
        this.#wake = undefined;
      }
    }
    return undefined;
  }

  /** A poll reached the marketplace: a registration waiting out an outage goes now. */
  wake(): void {
    this.#wake?.abort();
  }

  /**
   * The marketplace no longer knows an agent this runner registered (its database was
   * reset): register it again. Wallet idempotency gives back the same agent where it
   * can. `adopted` runs as soon as the new id is the agent's.
   */
  async again(lostId: string, adopted: () => void): Promise<void> {
    if (!this.#agent.selfRegistered || this.#again) return;
    this.#again = true;
    const { deps, telemetry, lifetime } = this.#r;
    try {
      const registration = await deps.registrar.register(
        this.#agent.spec.config,
        this.#agent.wallet?.address ?? "",
        lifetime,
      );
      this.#agent.agentId = registration.agentId;
      adopted();
      telemetry.reregistered(lostId, registration.agentId);
      await deps.onRegistered?.(this.#agent.spec, registration).catch(() => undefined);
    } catch (error) {
      telemetry.error("re-registration failed", error);
    } finally {
      this.#again = false;
    }
  }
}
