import { createHash } from "node:crypto";

/**
 * The keyless address earlier versions registered every agent with: a hash of owner
 * and name. Nobody holds its key, so payments sent to it are lost; it is kept only to
 * recognise (and migrate) agents registered that way.
 */
export function legacyDerivedWallet(ownerId: string, agentName: string): string {
  const digest = createHash("sha256").update(`bazaar-runner:${ownerId}:${agentName}`).digest("hex");
  return `0x${digest.slice(0, 40)}`;
}
