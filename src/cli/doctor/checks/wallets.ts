import { existsSync } from "node:fs";
import { join } from "node:path";
import type { AgentConfig } from "../../../agents/types.ts";
import type { RunnerConfig } from "../../../config/env.ts";
import { DEV_MNEMONIC_FILE } from "../../../wallet/dev-mnemonic.ts";
import { checksummed, HdWallet, sameAddress } from "../../../wallet/keys.ts";
import { legacyDerivedWallet } from "../../../wallet/legacy.ts";
import { isLoopbackUrl } from "../../../wallet/local-url.ts";
import { noWalletMessage } from "../../../wallet/setup.ts";

import { type DoctorCheck, result } from "../types.ts";

export interface WalletCheck {
  level: "ok" | "warn" | "fail";
  message: string;
}

/** Which agents hold keys, which are payout-only, and whether the development mnemonic is in use. */
export const walletsCheck: DoctorCheck = {
  name: "wallets",
  async run({ config, agentConfigs }) {
    const wallets = checkWallets(config, agentConfigs);
    return [result("wallets", wallets.level, wallets.message)];
  },
};

/**
 * The wallet configuration as `doctor` reports it: which agents hold keys, which are
 * payout-only, and whether the development mnemonic is in use. Reads, never generates.
 */
export function checkWallets(config: RunnerConfig, agents: AgentConfig[] | undefined): WalletCheck {
  const payout = checksummed(config.payoutWallet);
  const pinned = (agents ?? []).filter(
    (a) =>
      a.wallet_address &&
      !sameAddress(a.wallet_address, legacyDerivedWallet(config.ownerId, a.name)),
  );
  const payoutOnly = pinned.length
    ? `; payout-only (wallet_address in the document, no key): ${pinned.map((a) => a.name).join(", ")}`
    : "";
  const owner = checksummed(config.ownerId)
    ? "; AGENT_OWNER_ID is a wallet: one sign-in serves every agent when the runner holds its key"
    : "";
  if (config.walletMnemonic) {
    try {
      new HdWallet(config.walletMnemonic);
    } catch (error) {
      return { level: "fail", message: `AGENT_WALLET_MNEMONIC: ${(error as Error).message}` };
    }
    const keyed = (agents ?? []).filter((a) => !pinned.includes(a)).map((a) => a.name);
    return {
      level: "ok",
      message: `AGENT_WALLET_MNEMONIC set: the runner holds a key per agent (m/44'/60'/0'/0/i, index kept in the ledger)${keyed.length ? ` for ${keyed.join(", ")}` : ""}${payoutOnly}${owner} — back the mnemonic up: it is the only way to the earnings`,
    };
  }
  if (payout)
    return {
      level: "warn",
      message: `payout-only: agents are paid at AGENT_WALLET ${payout}${payoutOnly}; the runner holds no key, so agents neither sign in nor negotiate — set AGENT_WALLET_MNEMONIC for that`,
    };
  if (!isLoopbackUrl(config.bazaarApiUrl))
    return { level: "fail", message: noWalletMessage(config.bazaarApiUrl) };
  const file = join(config.stateDir, DEV_MNEMONIC_FILE);
  return {
    level: "warn",
    message: `development mnemonic ${existsSync(file) ? `in ${file}` : `(generated at start into ${file})`}, for local use only${payoutOnly} — set AGENT_WALLET_MNEMONIC before using a marketplace elsewhere`,
  };
}
