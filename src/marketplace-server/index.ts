import type { AddressInfo } from "node:net";
import { createMarketplaceApp, type MarketplaceServerOptions } from "./app.ts";
import type { FaultRules } from "./faults.ts";

/**
 * The embedded AgentBazaar marketplace: a local server that speaks the contract of the
 * real service (docs/marketplace-api.md), over a SQLite file: wallet sign-in, negotiation
 * and a record of payments, but no money moves.
 */

export { createMarketplaceApp, type MarketplaceApp, type MarketplaceServerOptions } from "./app.ts";
export type { FaultKind, FaultRule, FaultRules } from "./faults.ts";
export { isAgentBazaar } from "./probe.ts";
export {
  type AgentDoc,
  type BidDoc,
  type JobDoc,
  type JobResult,
  MarketplaceStore,
} from "./store.ts";

export interface StartMarketplaceOptions extends MarketplaceServerOptions {
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 8000; 0 picks a free port. */
  port?: number;
}

export interface RunningMarketplace {
  /** Like `http://127.0.0.1:8000`, no trailing slash. */
  url: string;
  port: number;
  setFaults(f: FaultRules | null): void;
  close(): Promise<void>;
}

/** Starts the embedded marketplace, listening; `close()` stops it and closes its database. */
export async function startMarketplace(
  options: StartMarketplaceOptions,
): Promise<RunningMarketplace> {
  const { host = "127.0.0.1", port = 8000, ...rest } = options;
  const market = await createMarketplaceApp(rest);
  try {
    await market.app.listen({ host, port });
  } catch (err) {
    await market.close();
    throw err;
  }
  const bound = (market.app.server.address() as AddressInfo).port;
  return {
    url: `http://${urlHost(host)}:${bound}`,
    port: bound,
    setFaults: market.setFaults,
    close: market.close,
  };
}

/** The host to put in a URL: a wildcard address is reached through loopback. */
function urlHost(host: string): string {
  if (host === "0.0.0.0" || host === "::" || host === "") return "127.0.0.1";
  return host.includes(":") ? `[${host}]` : host;
}
