/**
 * This replica's hold on one agent, as far as it knows: the lease epoch its ledger writes
 * carry, and until when the lease runs (extended at each renewal). Bidding stops a
 * margin before that, so a replica that cannot renew (MongoDB away, the process paused)
 * places no bid once the lease may be someone else's.
 */
export class Tenure {
  readonly epoch: number;
  readonly #marginMs: number;
  readonly #now: () => number;
  #expiresAt: number;
  #lost = false;

  constructor(options: {
    epoch: number;
    expiresAt: number;
    /** How long before expiry bidding stops. */
    marginMs: number;
    now?: () => number;
  }) {
    this.epoch = options.epoch;
    this.#expiresAt = options.expiresAt;
    this.#marginMs = options.marginMs;
    this.#now = options.now ?? Date.now;
  }

  get expiresAt(): number {
    return this.#expiresAt;
  }

  get lost(): boolean {
    return this.#lost;
  }

  extend(expiresAt: number): void {
    if (expiresAt > this.#expiresAt) this.#expiresAt = expiresAt;
  }

  /** The lease went to someone else (or could not be confirmed ours). */
  lose(): void {
    this.#lost = true;
  }

  /** Whether a new bid may be placed now. */
  mayBid(): boolean {
    return !this.#lost && this.#now() < this.#expiresAt - this.#marginMs;
  }
}
