import { createHash } from "node:crypto";

/**
 * A stable wallet address for an agent, derived from its owner and name. The
 * marketplace's registration is idempotent by wallet, so a restarted runner gets
 * the same agent_id back instead of creating a duplicate agent.
 */
export function deriveWallet(ownerId: string, agentName: string): string {
  const digest = createHash("sha256").update(`bazaar-runner:${ownerId}:${agentName}`).digest("hex");
  return `0x${digest.slice(0, 40)}`;
}
