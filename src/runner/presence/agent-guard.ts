import type { AgentConfig } from "../../agents/types.ts";
import { parseTime } from "../../contract/time.ts";
import type { Logger } from "../../logger.ts";
import type { Sessions } from "../../marketplace/auth.ts";
import type { MarketplaceClient } from "../../marketplace/client.ts";
import { isMarketplaceError } from "../../marketplace/errors.ts";
import type { MarketplaceAgent } from "../../marketplace/schemas.ts";
import { errorMessage } from "../../secrets.ts";
import type { AgentWallet, AgentWallets } from "../../wallet/agent-wallets.ts";
import { sameAddress } from "../../wallet/keys.ts";
import type { AgentTelemetry } from "../telemetry/agent-telemetry.ts";
import { sessionSigner } from "./heartbeats.ts";
import type { Registrar } from "./registration-queue.ts";

/** One of our running agents, as the guard sees it. */
export interface GuardedAgent {
  readonly agentId: string | undefined;
  readonly wallet: AgentWallet | undefined;
  readonly spec: { config: AgentConfig };
  readonly state: string;
  /** True when this runner registered it: its mode and capabilities are the runner's. */
  readonly selfRegistered: boolean;
  readonly telemetry: Pick<
    AgentTelemetry,
    "agentTampered" | "agentDeleted" | "agentRestored" | "warn"
  >;
  /** Its figures: whether this worker has heartbeated it yet. */
  readonly stats: { view: { lastHeartbeatAt: string | null } };
  /** A heartbeat now: puts its status back, and a 404 has it registered again. */
  heartbeat(): Promise<void>;
}

export interface AgentGuardDeps {
  client: Pick<MarketplaceClient, "getAgent" | "updateAgent">;
  sessions: Sessions;
  wallets: Pick<AgentWallets, "ownerAccount">;
  registrar: Pick<Registrar, "register">;
  /** PUBLIC_URL's webhook endpoint, when agents take notifications. */
  webhookUrl: string | undefined;
  agents: () => readonly GuardedAgent[];
  logger: Logger;
  /** Every agent is looked at once per period (default 90 s, so a change is noticed within two minutes). */
  periodMs?: number;
  /** At most this many agents are looked at per tick (default 10): with many agents the period stretches. */
  perTick?: number;
  /** False while the marketplace is down: nothing is looked at. */
  up?: () => boolean;
}

const DEFAULT_PERIOD_MS = 90_000;

/**
 * The guard's period for a heartbeat interval: one and a half intervals, at most 90 s
 * (so with the default 60 s heartbeat a change is noticed within two minutes, and tests
 * with short heartbeats get a short period).
 */
export function guardPeriodMs(heartbeatIntervalMs: number): number {
  return Math.min(DEFAULT_PERIOD_MS, Math.round(heartbeatIntervalMs * 1.5));
}
/** Ticks per period: one agent's turn comes round smoothly, not all at once. */
const TICKS_PER_PERIOD = 6;

/** The service marks an agent offline after 5 minutes without a heartbeat. */
const OFFLINE_SWEEP_MS = 5 * 60_000;

interface Expected {
  executionMode: string | undefined;
  /** "" for none. */
  webhookUrl: string;
  capabilities: Record<string, number>;
}

/** Fields the runner restores, and how. */
export type GuardedField = "webhook_url" | "status" | "execution_mode" | "capabilities";

/**
 * Anybody may re-register with one of our agents' wallets (changing its mode, webhook and
 * capabilities) or PUT or DELETE it without signing in. The guard reads each running
 * agent's document in turn (a budget per tick, the agents spread over the period) and
 * puts back what somebody else changed: webhook_url with a signed PUT, the status with a
 * heartbeat, mode and capabilities by registering again with the agent's own fields
 * (idempotent by wallet). A deleted agent is a 404: a heartbeat now has it registered
 * again. Each change is said once (a log line, `bazaar_runner_agent_tampered_total`).
 */
export class AgentGuard {
  readonly #d: AgentGuardDeps;
  #turn = 0;
  #timer: NodeJS.Timeout | undefined;
  /** The tick in progress, so that stop() can wait for it. */
  #current: Promise<void> | undefined;
  #stopped = false;
  /** Per agent id, what the runner set (see #expectedFor). */
  readonly #expected = new Map<string, Expected>();
  /** Per agent, the fields already said to be tampered with (said again only after they were back). */
  readonly #told = new Map<string, Set<string>>();

  constructor(deps: AgentGuardDeps) {
    this.#d = deps;
  }

  start(): void {
    const tickMs = Math.max(
      50,
      Math.floor((this.#d.periodMs ?? DEFAULT_PERIOD_MS) / TICKS_PER_PERIOD),
    );
    this.#timer = setInterval(
      () =>
        void this.tick().catch((error: unknown) => {
          this.#d.logger.debug({ problem: errorMessage(error) }, "agent check failed");
        }),
      tickMs,
    );
    this.#timer.unref();
  }

  /**
   * No more looks; resolves once the look in progress is over. The runner waits for it
   * before its agents heartbeat offline, so that no look puts an agent back online.
   */
  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
    await this.#current;
  }

  /** Looks at the next agents in turn: enough that each comes round once per period, within the budget. */
  tick(): Promise<void> {
    if (this.#current || this.#stopped || this.#d.up?.() === false) return Promise.resolve();
    this.#current = this.#lookAtNext().finally(() => {
      this.#current = undefined;
    });
    return this.#current;
  }

  async #lookAtNext(): Promise<void> {
    const agents = this.#d.agents().filter((a) => a.state === "running" && a.agentId);
    if (agents.length === 0) return;
    const share = Math.ceil(agents.length / TICKS_PER_PERIOD);
    const count = Math.min(agents.length, share, this.#d.perTick ?? 10);
    for (let i = 0; i < count && !this.#stopped; i++) {
      const agent = agents[(this.#turn + i) % agents.length]!;
      await this.check(agent);
    }
    this.#turn = (this.#turn + count) % agents.length;
  }

  /** Reads one agent's document and puts back what somebody else changed. */
  async check(agent: GuardedAgent): Promise<void> {
    const agentId = agent.agentId;
    if (!agentId) return;
    let doc: MarketplaceAgent;
    try {
      doc = await this.#d.client.getAgent(agentId);
    } catch (error) {
      if (isMarketplaceError(error, "BR_ERR_MARKETPLACE_NOT_FOUND")) {
        agent.telemetry.agentDeleted(agentId);
        await agent.heartbeat().catch(() => undefined); // its 404 registers the agent again
        return;
      }
      this.#d.logger.debug({ agentId, problem: errorMessage(error) }, "could not read the agent");
      return;
    }
    // Stopping, or the agent draining (it heartbeats offline then): nothing to put back.
    if (this.#stopped || agent.state !== "running") return;
    const changed = this.#changed(agent, agentId, doc);
    const told = this.#told.get(agentId);
    // Fields that are right again may be said again next time they change.
    if (told)
      for (const field of told) if (!changed.includes(field as GuardedField)) told.delete(field);
    if (changed.length === 0) return;
    this.#say(agent, agentId, changed, {
      execution_mode: doc.execution_mode,
      webhook_url: doc.webhook_url,
      capabilities: doc.capabilities,
      status: doc.status,
    });
    // Registering again finds the agent by its wallet: only with the wallet it is registered under.
    const ownWallet = sameAddress(doc.wallet_address ?? undefined, agent.wallet?.address);
    await this.#restore(agent, agentId, changed, ownWallet);
  }

  /**
   * What the runner set, fixed at the agent's first look: an agent it registered has the
   * mode, webhook and capabilities it registered with; one it found registered (its
   * agent_id configured) keeps what the first look shows (its webhook_url is the runner's
   * when PUBLIC_URL is set and the switch worked, see agent-startup.ts).
   */
  #expectedFor(agent: GuardedAgent, agentId: string, doc: MarketplaceAgent): Expected {
    let expected = this.#expected.get(agentId);
    if (expected) return expected;
    const { webhookUrl } = this.#d;
    const wanted = agent.spec.config.capabilities ?? {};
    expected = agent.selfRegistered
      ? {
          executionMode: webhookUrl ? "webhook" : "self_hosted",
          webhookUrl: webhookUrl ?? "",
          capabilities: Object.keys(wanted).length > 0 ? { ...wanted } : { ...doc.capabilities },
        }
      : {
          executionMode: doc.execution_mode ?? undefined,
          webhookUrl: doc.webhook_url ?? "",
          capabilities: { ...doc.capabilities },
        };
    if (this.#expected.size >= 10_000) this.#expected.clear();
    this.#expected.set(agentId, expected);
    return expected;
  }

  /** What differs from what the runner set. */
  #changed(agent: GuardedAgent, agentId: string, doc: MarketplaceAgent): GuardedField[] {
    const expected = this.#expectedFor(agent, agentId, doc);
    const changed: GuardedField[] = [];
    if ((doc.webhook_url ?? "") !== expected.webhookUrl) changed.push("webhook_url");
    if (
      expected.executionMode !== undefined &&
      doc.execution_mode != null &&
      doc.execution_mode !== expected.executionMode
    )
      changed.push("execution_mode");
    if (!sameScores(expected.capabilities, doc.capabilities)) changed.push("capabilities");
    // A running agent heartbeats available or busy. Offline with a fresh last_active is
    // somebody's PUT (the service's own sweep marks agents idle for 5 minutes).
    // Only once this worker heartbeated it: a replica handing it over says offline just before.
    if (doc.status === "offline" && doc.last_active && agent.stats.view.lastHeartbeatAt) {
      const age = Date.now() - parseTime(doc.last_active).getTime();
      if (age < OFFLINE_SWEEP_MS) changed.push("status");
    }
    return changed;
  }

  #say(
    agent: GuardedAgent,
    agentId: string,
    fields: string[],
    found: Record<string, unknown>,
  ): void {
    let told = this.#told.get(agentId);
    if (!told) {
      told = new Set();
      this.#told.set(agentId, told);
    }
    const fresh = fields.filter((f) => !told.has(f));
    for (const field of fresh) told.add(field);
    if (fresh.length > 0) agent.telemetry.agentTampered(fresh, found);
  }

  /** Put back: a later change of these fields is said again. */
  #restored(agentId: string, fields: readonly string[]): void {
    const told = this.#told.get(agentId);
    for (const field of fields) told?.delete(field);
  }

  async #restore(
    agent: GuardedAgent,
    agentId: string,
    changed: GuardedField[],
    ownWallet: boolean,
  ): Promise<void> {
    const { client, sessions, wallets, registrar } = this.#d;
    let rest = changed;
    try {
      const byRegistration = changed.includes("execution_mode") || changed.includes("capabilities");
      if (byRegistration && ownWallet && agent.wallet) {
        // The agent's own fields again (mode, webhook, capabilities): the same agent, by wallet.
        const expected = this.#expected.get(agentId);
        const config = expected
          ? { ...agent.spec.config, capabilities: expected.capabilities }
          : agent.spec.config;
        const again = await registrar.register(config, agent.wallet.address);
        if (again.agentId !== agentId)
          agent.telemetry.warn(
            "registering the agent again to put it back gave another agent",
            new Error(`${agentId} → ${again.agentId}`),
          );
        else {
          agent.telemetry.agentRestored(changed, "registered again with its own fields");
          this.#restored(agentId, changed);
        }
        // Registration applied mode and capabilities, the webhook with PUBLIC_URL (a stranger's
        // stays without: put back below), and made the agent available.
        rest =
          this.#d.webhookUrl === undefined && changed.includes("webhook_url")
            ? ["webhook_url"]
            : [];
      }
      if (rest.includes("webhook_url")) {
        const fields = { webhook_url: this.#expected.get(agentId)?.webhookUrl ?? "" };
        // Signed in as the owner: a signed change is the owner's, not anybody's.
        const signer = sessionSigner(wallets, agent.wallet);
        if (signer)
          await sessions.withSession(signer, (token) => client.updateAgent(agentId, fields, token));
        else await client.updateAgent(agentId, fields);
        agent.telemetry.agentRestored(["webhook_url"], "signed PUT");
        this.#restored(agentId, ["webhook_url"]);
      }
      if (rest.includes("status")) {
        await agent.heartbeat();
        agent.telemetry.agentRestored(["status"], "heartbeat");
        this.#restored(agentId, ["status"]);
      }
    } catch (error) {
      agent.telemetry.warn("could not put the agent's document back", error);
    }
  }
}

/** Same capability names with the same scores. */
function sameScores(
  want: Record<string, number>,
  have: Record<string, number> | undefined,
): boolean {
  const got = have ?? {};
  const names = Object.keys(want);
  return (
    names.length === Object.keys(got).length &&
    names.every((name) => Math.abs((got[name] ?? Number.NaN) - want[name]!) < 1e-9)
  );
}
