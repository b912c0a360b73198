/**
 * Self-clocked batching: single requests become one call over many. The requests made in
 * the same turn of the event loop form the first batch; those arriving while a batch is
 * in flight form the next, sent when it comes back. So one request alone costs one round
 * trip, and N at once cost a handful of round trips instead of N, with no timer to tune.
 *
 * Requests that come one by one, further apart than a round trip (each agent's after its
 * own registration: the registrar takes them one at a time), never meet that way; with
 * `gatherMs` the first request of an idle batcher waits that long for company.
 *
 * Not DataLoader: it batches a turn's requests too, but sends each batch as soon as it
 * forms, however many are out; one batch at a time is what clocks this one.
 */
export class SelfClockedBatch<K, V> {
  readonly #run: (keys: K[]) => Promise<V[]>;
  readonly #maxBatch: number;
  readonly #gatherMs: number;
  #waiting: Array<{ key: K; resolve: (value: V) => void; reject: (error: unknown) => void }> = [];
  #busy = false;

  /**
   * `run` answers a batch of keys in their order (a key may repeat); when it throws, every
   * request of that batch fails with its error and the next batch is still sent.
   */
  constructor(
    run: (keys: K[]) => Promise<V[]>,
    options: { maxBatch?: number; gatherMs?: number } = {},
  ) {
    this.#run = run;
    this.#maxBatch = options.maxBatch ?? 1000;
    this.#gatherMs = options.gatherMs ?? 0;
  }

  get(key: K): Promise<V> {
    return new Promise<V>((resolve, reject) => {
      this.#waiting.push({ key, resolve, reject });
      if (this.#busy) return;
      this.#busy = true;
      // The rest of this turn's requests (or of the gathering time) join the first batch.
      if (this.#gatherMs > 0) setTimeout(() => void this.#flush(), this.#gatherMs);
      else setImmediate(() => void this.#flush());
    });
  }

  async #flush(): Promise<void> {
    while (this.#waiting.length > 0) {
      const batch = this.#waiting.splice(0, this.#maxBatch);
      try {
        const values = await this.#run(batch.map((request) => request.key));
        batch.forEach((request, i) => {
          request.resolve(values[i] as V);
        });
      } catch (error) {
        for (const request of batch) request.reject(error);
      }
    }
    this.#busy = false;
  }
}
