/**
 * One timer for every agent's heartbeats. Each agent keeps its own moment in the
 * interval (so they stay spread over it, never all at once), but moments are rounded
 * to the clock's tick, so the heartbeats of one tick go out in one turn of the event
 * loop: a few wake-ups a second instead of a timer per agent. The tick is short on
 * purpose: a long one sends many heartbeats together, they wait together for the
 * pool's connections, and their requests outlive young-generation collections and get
 * promoted. The measurements are in bench/RESULTS.md ("One heartbeat clock", "The
 * heartbeat tick is 100 ms, not 1 s").
 */
export interface HeartbeatClockOptions {
  /** The rounding of every moment (default 100 ms). */
  tickMs?: number;
  now?: () => number;
}

interface Beat {
  due: number;
  /** The wait before the next beat: `thenMs` once, then the interval. */
  nextMs: number;
  intervalMs: number;
  beat: () => void;
}

const DEFAULT_TICK_MS = 100;

/** The tick for heartbeats every `intervalMs`: 100 ms, or a quarter of a shorter interval. */
export function heartbeatTickMs(intervalMs: number): number {
  return Math.max(10, Math.min(DEFAULT_TICK_MS, Math.floor(intervalMs / 4)));
}

export class HeartbeatClock {
  readonly #tickMs: number;
  readonly #now: () => number;
  /** Beats by the tick they are due at. */
  readonly #ticks = new Map<number, Set<Beat>>();
  #timer: NodeJS.Timeout | undefined;
  #size = 0;
  /** The last tick whose beats went out. */
  #done: number;

  constructor(options: HeartbeatClockOptions = {}) {
    this.#tickMs = options.tickMs ?? DEFAULT_TICK_MS;
    this.#now = options.now ?? Date.now;
    this.#done = this.#tickOf(this.#now()) - 1;
  }

  get size(): number {
    return this.#size;
  }

  /**
   * Calls `beat` once `delayMs` has passed (at the tick that ends then), again `thenMs`
   * later, then every `intervalMs`. Returns the function that stops it.
   */
  every(delayMs: number, thenMs: number, intervalMs: number, beat: () => void): () => void {
    const entry: Beat = { due: 0, nextMs: thenMs, intervalMs, beat };
    this.#size++;
    this.#place(entry, this.#now() + delayMs);
    this.#timer ??= setInterval(() => this.#tick(), this.#tickMs).unref();
    let stopped = false;
    return () => {
      if (stopped) return;
      stopped = true;
      this.#ticks.get(entry.due)?.delete(entry);
      if (--this.#size === 0) this.close();
    };
  }

  /** Stops the timer; nothing is called after this. */
  close(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
    this.#ticks.clear();
    this.#size = 0;
  }

  #tickOf(time: number): number {
    return Math.ceil(time / this.#tickMs);
  }

  #place(entry: Beat, at: number): void {
    // Never in a tick already gone: it would wait for nothing.
    entry.due = Math.max(this.#tickOf(at), this.#done + 1);
    let beats = this.#ticks.get(entry.due);
    if (!beats) {
      beats = new Set();
      this.#ticks.set(entry.due, beats);
    }
    beats.add(entry);
  }

  /**
   * The beats of every tick up to now, each placed again for its next moment. A timer
   * that ran late (a paused process) catches up with one beat each, not one per
   * interval missed: their next moment counts from now.
   */
  #tick(): void {
    const nowMs = this.#now();
    const now = this.#tickOf(nowMs);
    while (this.#done < now && this.#timer) {
      const tick = ++this.#done;
      const beats = this.#ticks.get(tick);
      if (!beats) continue;
      this.#ticks.delete(tick);
      for (const entry of beats) {
        this.#place(entry, Math.max(tick * this.#tickMs, nowMs) + entry.nextMs);
        entry.nextMs = entry.intervalMs;
        entry.beat();
      }
    }
  }
}
