import type { Ledger } from "../../state/types.ts";

/** The UTC day (`YYYY-MM-DD`) of an instant: spend caps count per UTC day. */
export function utcDay(epochMs: number): string {
  return new Date(epochMs).toISOString().slice(0, 10);
}

export interface SpendState {
  agentSpentUsd: number;
  runnerSpentUsd: number;
  agentCapUsd: number | undefined;
  runnerCapUsd: number | undefined;
}

/** Null while both caps leave room; else the sentence that says which cap is reached. */
export function capReached(s: SpendState): string | null {
  if (s.runnerCapUsd !== undefined && s.runnerSpentUsd >= s.runnerCapUsd)
    return `the runner's estimated LLM spend today, $${round4(s.runnerSpentUsd)}, reached RUNNER_DAILY_SPEND_USD ($${s.runnerCapUsd})`;
  if (s.agentCapUsd !== undefined && s.agentSpentUsd >= s.agentCapUsd)
    return `this agent's estimated LLM spend today, $${round4(s.agentSpentUsd)}, reached AGENT_DAILY_SPEND_USD ($${s.agentCapUsd})`;
  return null;
}

const round4 = (n: number) => Math.round(n * 1e4) / 1e4;

/**
 * AGENT_DAILY_SPEND_USD and RUNNER_DAILY_SPEND_USD over the ledger's per-day spend, so
 * that a restart does not reset them and replicas sharing a ledger share the runner cap.
 */
export class SpendCaps {
  readonly #ledger: Pick<Ledger, "addSpend" | "spendOn">;
  readonly #agentCap: number | undefined;
  readonly #runnerCap: number | undefined;
  readonly #now: () => number;

  constructor(
    ledger: Pick<Ledger, "addSpend" | "spendOn">,
    caps: { agentCapUsd: number | undefined; runnerCapUsd: number | undefined },
    now: () => number = Date.now,
  ) {
    this.#ledger = ledger;
    this.#agentCap = caps.agentCapUsd;
    this.#runnerCap = caps.runnerCapUsd;
    this.#now = now;
  }

  get enabled(): boolean {
    return this.#agentCap !== undefined || this.#runnerCap !== undefined;
  }

  /** Null when the agent may bid today; else why not. */
  async check(agentKey: string): Promise<string | null> {
    if (!this.enabled) return null;
    const day = utcDay(this.#now());
    return capReached({
      agentSpentUsd: this.#agentCap === undefined ? 0 : await this.#ledger.spendOn(day, agentKey),
      runnerSpentUsd: this.#runnerCap === undefined ? 0 : await this.#ledger.spendOn(day),
      agentCapUsd: this.#agentCap,
      runnerCapUsd: this.#runnerCap,
    });
  }

  /**
   * What today's caps leave the agent, USD (the smaller of its own and the runner's; 0
   * once one is reached); undefined when no cap is set.
   */
  async left(agentKey: string): Promise<number | undefined> {
    if (!this.enabled) return undefined;
    const day = utcDay(this.#now());
    let left = Number.POSITIVE_INFINITY;
    if (this.#agentCap !== undefined)
      left = Math.min(left, this.#agentCap - (await this.#ledger.spendOn(day, agentKey)));
    if (this.#runnerCap !== undefined)
      left = Math.min(left, this.#runnerCap - (await this.#ledger.spendOn(day)));
    return Math.max(0, left);
  }

  /** Counts an execution's estimated cost towards today. */
  async record(agentKey: string, usd: number): Promise<void> {
    if (usd > 0) await this.#ledger.addSpend(utcDay(this.#now()), agentKey, usd);
  }
}
