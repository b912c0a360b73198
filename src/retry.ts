/**
 * Retry helpers shared by the marketplace and LLM clients: pure functions for the
 * wait before the next attempt, and an abortable sleep.
 */

/**
 * Milliseconds a `Retry-After` header asks for: delta-seconds ("120", "1.5") or an
 * HTTP-date. Undefined when absent or unreadable; a date in the past gives 0.
 * Callers cap the value: a server may ask for longer than a job can wait.
 */
export function parseRetryAfter(
  header: string | null | undefined,
  now: number = Date.now(),
): number | undefined {
  if (header === null || header === undefined) return undefined;
  const value = header.trim();
  if (value === "") return undefined;
  if (/^\d+(\.\d+)?$/.test(value)) return Math.round(Number(value) * 1000);
  // Only something that looks like a date, so that "-5" or "soon" are not "now".
  if (!/[a-z]/i.test(value)) return undefined;
  const at = Date.parse(value);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - now);
}

export interface BackoffOptions {
  /** Ceiling of the first retry's wait. */
  baseMs: number;
  /** Largest wait, however many attempts failed. */
  capMs: number;
  /** A number in [0, 1); Math.random unless a test pins it. */
  random?: () => number;
  /**
   * "full" (default): uniform in [0, ceiling). "equal": uniform in [ceiling/2, ceiling),
   * for loops that must not retry faster than half their ceiling (the poll loop).
   */
  jitter?: "full" | "equal";
}

/**
 * Exponential backoff with full jitter: after the n-th failed attempt (1-based) wait a
 * uniform random time in [0, min(cap, base × 2^(n-1))). Jitter spreads the retries of
 * many agents so that a recovering server is not hit by a synchronized storm.
 */
export function backoffDelay(attempt: number, options: BackoffOptions): number {
  const random = options.random ?? Math.random;
  const exponent = Math.max(0, Math.floor(attempt) - 1);
  // 2^exponent overflows to Infinity for absurd attempts; min() keeps it at the cap.
  const ceiling = Math.min(options.capMs, options.baseMs * 2 ** exponent);
  const floor = options.jitter === "equal" ? ceiling / 2 : 0;
  return Math.max(0, floor + (ceiling - floor) * random());
}

/** The reason an aborted signal carries, as an Error. */
export function abortReason(signal: AbortSignal): Error {
  const reason: unknown = signal.reason;
  return reason instanceof Error
    ? reason
    : new DOMException("This operation was aborted", "AbortError");
}

/** Waits `ms`; rejects with the signal's reason as soon as the signal aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted) return Promise.reject(abortReason(signal));
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      clearTimeout(timer);
      reject(abortReason(signal as AbortSignal));
    };
    const timer = setTimeout(
      () => {
        signal?.removeEventListener("abort", onAbort);
        resolve();
      },
      Math.max(0, ms),
    );
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
