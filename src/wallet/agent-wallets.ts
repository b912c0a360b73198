import type { LocalAccount } from "viem";
import { BazaarRunnerError } from "../errors.ts";
import type { Ledger } from "../state/types.ts";
import { checksummed, sameAddress } from "./keys.ts";
import { legacyDerivedWallet } from "./legacy.ts";
import type { WalletSetup } from "./setup.ts";

/** Where one agent is paid, and whether the runner can sign for it. */
export interface AgentWallet {
  /** Checksummed. */
  address: string;
  holdsKey: boolean;
  /** The key, when the runner holds it. */
  account: LocalAccount | undefined;
  /** Its index at m/44'/60'/0'/0/i, when derived. */
  index: number | undefined;
  /** Why this address: derived from the mnemonic, the agent document's wallet_address, or AGENT_WALLET. */
  origin: "derived" | "document" | "agent-wallet";
}

/** The config fields a wallet depends on. */
export interface WalletConfig {
  name: string;
  wallet_address?: string | undefined;
}

/** An agent that can be paid nowhere: no mnemonic, no AGENT_WALLET, no wallet_address. */
export class NoWalletError extends BazaarRunnerError {
  override name = "NoWalletError";
  constructor(message: string) {
    super("BR_ERR_NO_WALLET", message);
  }
}

/**
 * Each agent's wallet. With a mnemonic, an agent gets the key at its own stable index
 * (kept in the ledger, never shared). A document's `wallet_address` other than that key's
 * is a payout address the operator holds: paid there, nothing signed. Without a
 * mnemonic, AGENT_WALLET is the payout address of every agent without its own.
 */
export class AgentWallets {
  readonly setup: WalletSetup;
  readonly #ledger: Pick<Ledger, "walletIndex">;
  readonly #ownerId: string;
  #owner: LocalAccount | undefined;

  constructor(setup: WalletSetup, ledger: Pick<Ledger, "walletIndex">, ownerId: string) {
    this.setup = setup;
    this.#ledger = ledger;
    this.#ownerId = ownerId;
  }

  /** The keyless address earlier versions registered this agent with. */
  legacyAddress(name: string): string {
    return legacyDerivedWallet(this.#ownerId, name);
  }

  /** The owner's key, when AGENT_OWNER_ID is the address of a key the runner holds (one sign-in serves all its agents). */
  get ownerAccount(): LocalAccount | undefined {
    return this.#owner;
  }

  async resolve(agentKey: string, config: WalletConfig): Promise<AgentWallet> {
    // A wallet_address the runner wrote back from the keyless scheme is no choice of the operator's.
    const pinned = sameAddress(config.wallet_address, this.legacyAddress(config.name))
      ? undefined
      : checksummed(config.wallet_address);
    const hd = this.setup.hd;
    if (hd) {
      const index = await this.#ledger.walletIndex(agentKey);
      const account = hd.account(index);
      if (sameAddress(account.address, this.#ownerId)) this.#owner = account;
      if (!pinned || sameAddress(pinned, account.address))
        return { address: account.address, holdsKey: true, account, index, origin: "derived" };
    }
    if (pinned)
      return {
        address: pinned,
        holdsKey: false,
        account: undefined,
        index: undefined,
        origin: "document",
      };
    if (this.setup.payoutWallet)
      return {
        address: this.setup.payoutWallet,
        holdsKey: false,
        account: undefined,
        index: undefined,
        origin: "agent-wallet",
      };
    throw new NoWalletError(
      `agent ${config.name} has no wallet: set AGENT_WALLET_MNEMONIC or AGENT_WALLET, or give it a wallet_address`,
    );
  }
}
