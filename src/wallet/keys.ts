import { mnemonicToSeedSync, validateMnemonic } from "@scure/bip39";
// Addresses through ox (viem's own core): `viem`'s main entry loads hundreds of modules
// for two functions (its memory cost is in bench/RESULTS.md).
import * as Address from "ox/Address";
import * as Hex from "ox/Hex";
import { english, generateMnemonic, type HDAccount, HDKey, hdKeyToAccount } from "viem/accounts";
import { BazaarRunnerError, InvalidArgumentError } from "../errors.ts";
import { registerSecret } from "../secrets.ts";

/**
 * The BIP-44 chain every agent key is a child of (Ethereum coin type, account 0,
 * external chain): agent `i`'s key is at m/44'/60'/0'/0/i.
 */
const AGENT_CHAIN_PATH = "m/44'/60'/0'/0";

/** A mnemonic that is not a valid BIP-39 English phrase. The message never quotes it. */
export class MnemonicError extends BazaarRunnerError {
  override name = "MnemonicError";
  constructor(message: string) {
    super("BR_ERR_INVALID_MNEMONIC", message);
  }
}

/** A new random 12-word English BIP-39 phrase. */
export function newMnemonic(): string {
  return generateMnemonic(english);
}

/**
 * The keys of one mnemonic. The seed is derived once (PBKDF2 is slow on purpose);
 * the phrase and every private key handed out are registered secrets.
 */
export class HdWallet {
  /**
   * The node at m/44'/60'/0'/0, derived once: each agent's key is one step from it
   * rather than five from the root (bench/RESULTS.md, "Agent keys one step from the
   * chain node").
   */
  readonly #chain: HDKey;
  readonly #accounts = new Map<number, HDAccount>();

  constructor(mnemonic: string) {
    const phrase = mnemonic.trim().split(/\s+/).join(" ");
    registerSecret(mnemonic);
    registerSecret(phrase);
    if (!validateMnemonic(phrase, english)) {
      throw new MnemonicError(
        "not a valid BIP-39 English mnemonic (unknown word, wrong length or bad checksum)",
      );
    }
    this.#chain = HDKey.fromMasterSeed(mnemonicToSeedSync(phrase)).derive(AGENT_CHAIN_PATH);
  }

  /** The account at m/44'/60'/0'/0/index. */
  account(index: number): HDAccount {
    if (!Number.isSafeInteger(index) || index < 0 || index >= 0x80000000)
      throw new InvalidArgumentError(
        `wallet index must be an integer from 0 to 2^31-1, got ${index}`,
      );
    let account = this.#accounts.get(index);
    if (!account) {
      // A path is read from the node it is given, so "m/i" of the chain is
      // m/44'/60'/0'/0/i; viem's type expects a path from the root.
      const fromChain = `m/${index}` as `m/44'/60'/${string}`;
      account = hdKeyToAccount(this.#chain, { path: fromChain });
      const key = account.getHdKey().privateKey;
      if (key) {
        const hex = Hex.fromBytes(key);
        registerSecret(hex);
        registerSecret(hex.slice(2));
      }
      this.#accounts.set(index, account);
    }
    return account;
  }
}

/** The checksummed form of an address, or undefined when it is not a 20-byte hex address. */
export function checksummed(address: string | null | undefined): Address.Address | undefined {
  if (!address || !Address.validate(address, { strict: false })) return undefined;
  return Address.checksum(address);
}

export function sameAddress(a: string | null | undefined, b: string | null | undefined): boolean {
  return !!a && !!b && a.toLowerCase() === b.toLowerCase();
}
