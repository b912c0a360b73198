import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ConfigError } from "../../src/config/env.ts";
import { scrub } from "../../src/secrets.ts";
import { DEV_MNEMONIC_FILE, loadOrCreateDevMnemonic } from "../../src/wallet/dev-mnemonic.ts";
import { checksummed, HdWallet } from "../../src/wallet/keys.ts";
import { isLoopbackUrl } from "../../src/wallet/local-url.ts";
import { noWalletMessage, resolveWalletSetup } from "../../src/wallet/setup.ts";

const dirs: string[] = [];
const tempDir = () => {
  const dir = mkdtempSync(join(tmpdir(), "wallet-test-"));
  dirs.push(dir);
  return dir;
};
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

/**
 * Published vectors: the development mnemonic of Hardhat and Foundry (anvil prints these
 * accounts at start) and the BIP-39 all-"abandon" phrase, at m/44'/60'/0'/0/i.
 */
const TEST_JUNK = "test test test test test test test test test test test junk";
const VECTORS: [string, number, string][] = [
  [TEST_JUNK, 0, "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"],
  [TEST_JUNK, 1, "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"],
  [TEST_JUNK, 2, "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC"],
  [TEST_JUNK, 9, "0xa0Ee7A142d267C1f36714E4a8F75612F20a79720"],
  [
    "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about",
    0,
    "0x9858EfFD232B4033E47d90003D41EC34EcaEda94",
  ],
];

describe("HD derivation", () => {
  it.each(VECTORS)("%s at index %i is %s", (mnemonic, index, address) => {
    expect(new HdWallet(mnemonic).account(index).address).toBe(address);
  });

  it("registers the mnemonic and each private key handed out as secrets", () => {
    const wallet = new HdWallet(TEST_JUNK);
    wallet.account(0);
    // Anvil's published key of account 0.
    const key = "ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";
    expect(scrub(`key 0x${key} and ${key}`)).not.toContain(key);
    expect(scrub(`phrase: ${TEST_JUNK}`)).not.toContain(TEST_JUNK);
  });

  it("refuses an invalid phrase without quoting it", () => {
    const bad = "alpha bravo charlie delta echo foxtrot golf hotel india juliet kilo lima";
    expect(() => new HdWallet(bad)).toThrow(/not a valid BIP-39/);
    try {
      new HdWallet(bad);
    } catch (error) {
      expect(String(error)).not.toContain("foxtrot");
    }
  });

  it("checksums addresses", () => {
    expect(checksummed("0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266")).toBe(VECTORS[0]?.[2]);
    expect(checksummed("0x1234")).toBeUndefined();
  });
});

describe("wallet setup", () => {
  it("knows loopback marketplaces", () => {
    for (const url of ["http://localhost:8000", "http://127.0.0.1:1", "http://[::1]:80"])
      expect(isLoopbackUrl(url)).toBe(true);
    for (const url of ["https://bazaar.example.com", "http://10.0.0.2:8000", "not a url"])
      expect(isLoopbackUrl(url)).toBe(false);
  });

  it("refuses a non-local marketplace with neither variable, in one line naming both", () => {
    const config = { bazaarApiUrl: "https://bazaar.example.com", stateDir: tempDir() } as const;
    expect(() =>
      resolveWalletSetup({ ...config, walletMnemonic: undefined, payoutWallet: undefined }),
    ).toThrow(ConfigError);
    const line = noWalletMessage(config.bazaarApiUrl);
    expect(line).not.toContain("\n");
    expect(line).toMatch(/unrecoverable/);
    expect(line).toContain("AGENT_WALLET_MNEMONIC");
    expect(line).toContain("AGENT_WALLET ");
  });

  it("uses AGENT_WALLET_MNEMONIC anywhere, and AGENT_WALLET as payout-only", () => {
    const remote = { bazaarApiUrl: "https://bazaar.example.com", stateDir: tempDir() };
    const env = resolveWalletSetup({
      ...remote,
      walletMnemonic: TEST_JUNK,
      payoutWallet: undefined,
    });
    expect(env.mnemonic).toBe("env");
    expect(env.hd?.account(0).address).toBe(VECTORS[0]?.[2]);
    const payout = resolveWalletSetup({
      ...remote,
      walletMnemonic: undefined,
      payoutWallet: "0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266",
    });
    expect(payout).toMatchObject({
      hd: undefined,
      mnemonic: "none",
      payoutWallet: VECTORS[0]?.[2],
    });
    expect(() =>
      resolveWalletSetup({ ...remote, walletMnemonic: "not a phrase", payoutWallet: undefined }),
    ).toThrow(/AGENT_WALLET_MNEMONIC: not a valid/);
  });

  it("generates a development mnemonic once, mode 0600, for a loopback marketplace", () => {
    const stateDir = join(tempDir(), "state");
    const local = {
      bazaarApiUrl: "http://127.0.0.1:8000",
      stateDir,
      walletMnemonic: undefined,
      payoutWallet: undefined,
    };
    const first = resolveWalletSetup(local);
    expect(first.mnemonic).toBe("dev");
    const file = join(stateDir, DEV_MNEMONIC_FILE);
    expect(first.devMnemonicFile).toBe(file);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const second = resolveWalletSetup(local);
    expect(second.hd?.account(3).address).toBe(first.hd?.account(3).address);
    const again = loadOrCreateDevMnemonic(stateDir);
    expect(again.created).toBe(false);
    expect(readFileSync(file, "utf8").trim().split(" ")).toHaveLength(12);
  });
});
