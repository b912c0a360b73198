import { Agent, type Dispatcher } from "undici";

export interface SharedPoolOptions {
  /** Connections per origin. */
  connections?: number;
  keepAliveTimeoutMs?: number;
}

/**
 * The one HTTP connection pool of the process. The marketplace client and the LLM
 * client both dispatch through it, so N agents share a handful of keep-alive sockets.
 */
export function createSharedPool(options: SharedPoolOptions = {}): Dispatcher {
  return new Agent({
    connections: options.connections ?? 16,
    keepAliveTimeout: options.keepAliveTimeoutMs ?? 30_000,
    keepAliveMaxTimeout: 120_000,
    connectTimeout: 10_000,
    headersTimeout: 130_000,
    bodyTimeout: 130_000,
  });
}

/**
 * Runs `fn` over `items` with at most `limit` calls under way at once; resolves when all
 * are done, with their results in order. A call that throws is the caller's to catch.
 */
export async function mapBounded<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<R>,
): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const lanes = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await fn(items[index] as T);
    }
  });
  await Promise.all(lanes);
  return results;
}
