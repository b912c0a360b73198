import { isMarketplaceError } from "../../marketplace/errors.ts";
import { backoffDelay } from "../../retry.ts";

/** Whether a failure says the marketplace itself is away, not that one request was refused. */
export function isOutage(error: unknown): boolean {
  return isMarketplaceError(error) && error.isOutage;
}

export interface HealthOptions {
  /** The longest wait between two probes: AGENT_HEARTBEAT_INTERVAL. */
  maxProbeDelayMs: number;
  /** How far heartbeats are spread after a recovery (a few seconds). */
  recoverySpreadMs?: number;
  random?: () => number;
}

/**
 * The runner's one view of the marketplace's health, shared by every agent. While the
 * marketplace is down, the poll loop is the one probe (exponential backoff with
 * jitter, capped at the heartbeat interval), heartbeats are paused and no agent lists
 * or retries anything; on recovery heartbeats resume, spread over a few seconds, and
 * polling resumes at once.
 */
export class MarketplaceHealth {
  readonly #options: HealthOptions;
  readonly #recovered = new Set<() => void>();
  #failures = 0;
  #downSince: number | undefined;

  constructor(options: HealthOptions) {
    this.#options = options;
  }

  get up(): boolean {
    return this.#downSince === undefined;
  }

  /** Consecutive failed probes of this outage. */
  get failures(): number {
    return this.#failures;
  }

  /** Records a failure; returns true when it is an outage (the marketplace is now down). */
  failed(error: unknown): boolean {
    if (!isOutage(error)) return false;
    this.#failures++;
    this.#downSince ??= Date.now();
    return true;
  }

  /** Records an answer: the marketplace is up; listeners hear of a recovery. */
  ok(): void {
    this.#failures = 0;
    if (this.#downSince === undefined) return;
    this.#downSince = undefined;
    for (const listener of this.#recovered) listener();
  }

  /** Wait before the next probe while down. */
  probeDelay(): number {
    return backoffDelay(Math.max(1, this.#failures), {
      baseMs: 500,
      capMs: this.#options.maxProbeDelayMs,
      jitter: "equal",
      random: this.#options.random,
    });
  }

  /** A delay in [0, spread) for one agent's first heartbeat after a recovery. */
  recoveryDelay(): number {
    const spread = Math.min(this.#options.recoverySpreadMs ?? 3000, this.#options.maxProbeDelayMs);
    return Math.floor((this.#options.random ?? Math.random)() * spread);
  }

  onRecovered(listener: () => void): () => void {
    this.#recovered.add(listener);
    return () => this.#recovered.delete(listener);
  }
}
