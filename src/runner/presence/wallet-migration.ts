import type { MarketplaceClient } from "../../marketplace/client.ts";
import { isMarketplaceError } from "../../marketplace/errors.ts";
import type { Ledger } from "../../state/types.ts";
import { sameAddress } from "../../wallet/keys.ts";
import type { AgentTelemetry } from "../telemetry/agent-telemetry.ts";

/**
 * Agents registered by earlier versions under the keyless address made from owner and
 * name: nobody holds its key, so whatever the marketplace paid there is lost. The
 * marketplace cannot change a wallet in place, so the agent is registered anew with its
 * real wallet and the old one is retired.
 */
export interface MigrationDeps {
  client: MarketplaceClient;
  ledger: Ledger;
  telemetry: AgentTelemetry;
  keyless: KeylessAgents;
}

/** How long one listing of the marketplace's agents answers look-ups (start-up and a little more). */
const LISTING_KEPT_MS = 300_000;

/**
 * The marketplace's agents by wallet, listed once and shared by every worker. Agents
 * under a keyless address were registered by earlier versions, before this start, so
 * one listing finds them all; a listing per newly registered agent made starting N
 * agents cost N listings of up to N agents each.
 */
export class KeylessAgents {
  readonly #client: MarketplaceClient;
  #byWallet: Promise<Map<string, string[]>> | undefined;

  constructor(client: MarketplaceClient) {
    this.#client = client;
  }

  /** Ids of the agents registered under `wallet` (any case). Throws when the listing fails. */
  async registeredUnder(wallet: string): Promise<string[]> {
    if (!this.#byWallet) {
      const listing = this.#client.listAgents().then((agents) => {
        const byWallet = new Map<string, string[]>();
        for (const a of agents) {
          const key = a.wallet_address?.toLowerCase();
          if (key) byWallet.set(key, [...(byWallet.get(key) ?? []), a.agent_id]);
        }
        // Released after start-up: the map holds every agent of the marketplace.
        setTimeout(() => {
          if (this.#byWallet === listing) this.#byWallet = undefined;
        }, LISTING_KEPT_MS).unref();
        return byWallet;
      });
      // A failed listing is not kept: the next look-up asks again.
      listing.catch(() => {
        if (this.#byWallet === listing) this.#byWallet = undefined;
      });
      this.#byWallet = listing;
    }
    return (await this.#byWallet).get(wallet.toLowerCase()) ?? [];
  }
}

/** Whether the configured agent id was registered under the keyless address. */
export async function registeredKeyless(
  agentId: string,
  legacy: string,
  deps: MigrationDeps,
): Promise<boolean> {
  const known = await deps.client.getAgent(agentId).catch(() => undefined);
  return known !== undefined && sameAddress(known.wallet_address, legacy);
}

/** Another agent registered under the keyless address (an earlier run's), if any. */
export async function findKeylessAgent(
  legacy: string,
  currentId: string,
  deps: MigrationDeps,
): Promise<string | undefined> {
  try {
    return (await deps.keyless.registeredUnder(legacy)).find((id) => id !== currentId);
  } catch (error) {
    deps.telemetry.error(
      "could not look for an agent registered with the old keyless wallet",
      error,
    );
    return undefined;
  }
}

/** The old agent is heartbeated offline; the operator hears old id → new id once. */
export async function retireKeylessAgent(
  oldId: string,
  newId: string,
  wallet: string,
  deps: MigrationDeps,
): Promise<void> {
  try {
    await deps.client.heartbeat(oldId, { status: "offline", current_capacity: 0 });
  } catch (error) {
    if (!isMarketplaceError(error, "BR_ERR_MARKETPLACE_NOT_FOUND")) {
      deps.telemetry.error("could not take the old keyless agent offline", error);
      return; // tried again at the next start
    }
  }
  if (await deps.ledger.noteOnce(`wallet-migration:${oldId}`).catch(() => false))
    deps.telemetry.migrated(oldId, newId, wallet);
}
