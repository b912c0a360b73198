import { chmodSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { registerSecret } from "../secrets.ts";
import { newMnemonic } from "./keys.ts";

/** The development mnemonic's file in RUNNER_STATE_DIR. */
export const DEV_MNEMONIC_FILE = "dev-wallet-mnemonic";

/**
 * The development mnemonic of this state directory: read if it exists, else generated
 * once and written with mode 0600 (`wx`, so two processes starting together agree on
 * the first one written). For a marketplace on this machine only.
 */
export function loadOrCreateDevMnemonic(stateDir: string): {
  mnemonic: string;
  path: string;
  created: boolean;
} {
  const path = join(stateDir, DEV_MNEMONIC_FILE);
  const read = (): string => {
    const mnemonic = readFileSync(path, "utf8").trim();
    registerSecret(mnemonic);
    return mnemonic;
  };
  try {
    return { mnemonic: read(), path, created: false };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
  }
  mkdirSync(stateDir, { recursive: true });
  const mnemonic = newMnemonic();
  registerSecret(mnemonic);
  try {
    writeFileSync(path, `${mnemonic}\n`, { mode: 0o600, flag: "wx" });
    chmodSync(path, 0o600); // the umask may have taken bits away, never added: make it exact
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    return { mnemonic: read(), path, created: false };
  }
  return { mnemonic, path, created: true };
}
