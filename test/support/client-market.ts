import { join } from "node:path";
import { MarketplaceClient } from "../../src/marketplace/client.ts";
import { type RunningMarketplace, startMarketplace } from "../../src/marketplace-server/index.ts";
import { createSharedPool } from "../../src/pool.ts";
import { tempDir } from "../cli/cli.ts";

/** The embedded marketplace in a temporary directory, and the real client talking to it. */
export interface ClientMarket {
  dir: string;
  market: RunningMarketplace;
  client: MarketplaceClient;
  close(): Promise<void>;
}

export async function startClientMarket(prefix: string): Promise<ClientMarket> {
  const dir = await tempDir(prefix);
  const market = await startMarketplace({
    host: "127.0.0.1",
    port: 0,
    dbPath: join(dir.path, "m.sqlite"),
  });
  const pool = createSharedPool({ connections: 2 });
  const client = new MarketplaceClient({ baseUrl: market.url, dispatcher: pool, maxAttempts: 1 });
  return {
    dir: dir.path,
    market,
    client,
    async close() {
      await pool.close();
      await market.close();
      await dir.cleanup();
    },
  };
}
