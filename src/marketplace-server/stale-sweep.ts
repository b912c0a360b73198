import type { Logger } from "../logger.ts";
import type { MarketplaceRules } from "./rules.ts";

/** The service's periods (api.py `cleanup_stale_agents_loop`): 5 minutes, checked every 60 s. */
export const STALE_AFTER_SECONDS = 5 * 60;
export const SWEEP_EVERY_SECONDS = 60;

/**
 * Runs the stale-agent sweep at start and then every `everySeconds` (0: never), as the
 * service's background loop does. A failed sweep is logged and the next one runs.
 */
export class StaleAgentSweeper {
  readonly #rules: MarketplaceRules;
  readonly #staleAfterMs: number;
  readonly #log: Logger;
  #timer: NodeJS.Timeout | null = null;

  constructor(rules: MarketplaceRules, staleAfterSeconds: number, log: Logger) {
    this.#rules = rules;
    this.#staleAfterMs = staleAfterSeconds * 1000;
    this.#log = log;
  }

  start(everySeconds: number): void {
    if (everySeconds <= 0 || this.#timer) return;
    this.sweep();
    this.#timer = setInterval(() => this.sweep(), everySeconds * 1000);
    this.#timer.unref();
  }

  /** One sweep; returns how many agents it took offline. */
  sweep(): number {
    try {
      const swept = this.#rules.sweepStaleAgents(this.#staleAfterMs);
      for (const { agentId, cancelledBids } of swept) {
        this.#log.info({ agentId, cancelledBids }, "stale agent marked offline");
      }
      return swept.length;
    } catch (err) {
      this.#log.error({ err }, "stale agent sweep failed");
      return 0;
    }
  }

  close(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
  }
}
