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
