import { join } from "node:path";
import { newMnemonic } from "./keys.ts";
import { loadOrCreateSecretFile } from "./secret-file.ts";

/** The development mnemonic's file in RUNNER_STATE_DIR. */
export const DEV_MNEMONIC_FILE = "dev-wallet-mnemonic";

/** The development mnemonic of this state directory, generated once. For a marketplace on this machine only. */
export function loadOrCreateDevMnemonic(stateDir: string): {
  mnemonic: string;
  path: string;
  created: boolean;
} {
  const path = join(stateDir, DEV_MNEMONIC_FILE);
  const { value, created } = loadOrCreateSecretFile(path, newMnemonic);
  return { mnemonic: value, path, created };
}
