import type { MarketplaceClient } from "../marketplace/client.ts";
import { isMarketplaceError } from "../marketplace/errors.ts";
import type { Ledger } from "../state/types.ts";
import { sameAddress } from "../wallet/keys.ts";
import type { AgentTelemetry } from "./telemetry.ts";

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
    const agents = await deps.client.listAgents();
    return agents.find((a) => a.agent_id !== currentId && sameAddress(a.wallet_address, legacy))
      ?.agent_id;
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
    if (!isMarketplaceError(error, 404)) {
      deps.telemetry.error("could not take the old keyless agent offline", error);
      return; // tried again at the next start
    }
  }
  if (await deps.ledger.noteOnce(`wallet-migration:${oldId}`).catch(() => false))
    deps.telemetry.migrated(oldId, newId, wallet);
}
