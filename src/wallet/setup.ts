import type { RunnerConfig } from "../config/env.ts";
import { ConfigError } from "../config/env.ts";
import type { Logger } from "../logger.ts";
import { loadOrCreateDevMnemonic } from "./dev-mnemonic.ts";
import { checksummed, HdWallet, MnemonicError } from "./keys.ts";
import { isLoopbackUrl } from "./local-url.ts";

/** Where the agents' wallets come from, decided once at start-up. */
export interface WalletSetup {
  /** The keys, when the runner holds any (AGENT_WALLET_MNEMONIC or the development one). */
  hd: HdWallet | undefined;
  /** Which mnemonic: the operator's, the generated development one, or none. */
  mnemonic: "env" | "dev" | "none";
  /** The development mnemonic's file, when that is the one used. */
  devMnemonicFile: string | undefined;
  /** AGENT_WALLET (checksummed): where agents without keys are paid. */
  payoutWallet: string | undefined;
}

/** The refusal line when nothing would receive the agents' earnings. */
export function noWalletMessage(marketplaceUrl: string): string {
  return `no wallet configured for a marketplace at ${marketplaceUrl}: earnings sent to the agents would be unrecoverable — set AGENT_WALLET_MNEMONIC (the runner derives and holds a key per agent) or AGENT_WALLET (a payout address you hold)`;
}

/**
 * Decides the wallet setup before any request is sent. With neither variable set, a
 * marketplace on this machine gets a development mnemonic (generated once into
 * RUNNER_STATE_DIR, with one warning line); any other marketplace is refused with a
 * ConfigError, because whatever it paid would be lost.
 */
export function resolveWalletSetup(
  config: Pick<RunnerConfig, "walletMnemonic" | "payoutWallet" | "stateDir" | "bazaarApiUrl">,
  logger?: Logger,
): WalletSetup {
  const payoutWallet = checksummed(config.payoutWallet);
  if (config.walletMnemonic) {
    let hd: HdWallet;
    try {
      hd = new HdWallet(config.walletMnemonic);
    } catch (error) {
      if (error instanceof MnemonicError)
        throw new ConfigError(`AGENT_WALLET_MNEMONIC: ${error.message}`);
      throw error;
    }
    return { hd, mnemonic: "env", devMnemonicFile: undefined, payoutWallet };
  }
  if (payoutWallet)
    return { hd: undefined, mnemonic: "none", devMnemonicFile: undefined, payoutWallet };
  if (!isLoopbackUrl(config.bazaarApiUrl))
    throw new ConfigError(noWalletMessage(config.bazaarApiUrl));
  const dev = loadOrCreateDevMnemonic(config.stateDir);
  logger?.warn(
    { file: dev.path, created: dev.created },
    "wallets: using a development mnemonic from RUNNER_STATE_DIR, for local use only — set AGENT_WALLET_MNEMONIC before going anywhere real money is paid",
  );
  return {
    hd: new HdWallet(dev.mnemonic),
    mnemonic: "dev",
    devMnemonicFile: dev.path,
    payoutWallet,
  };
}
