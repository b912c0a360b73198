import { chmodSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Hex } from "viem";
import { generatePrivateKey, type PrivateKeyAccount, privateKeyToAccount } from "viem/accounts";
import { ConfigError } from "../config/env.ts";
import { registerSecret } from "../secrets.ts";
import { isLoopbackUrl } from "./local-url.ts";

/** The development poster key's file in RUNNER_STATE_DIR. */
export const DEV_POSTER_KEY_FILE = "dev-poster-key";

/**
 * The key the poster-side CLI signs in with (counter-offers need the job's poster):
 * POSTER_PRIVATE_KEY, or for a marketplace on this machine a development key generated
 * once into RUNNER_STATE_DIR (mode 0600).
 */
export function posterAccount(config: {
  posterPrivateKey: string | undefined;
  stateDir: string;
  bazaarApiUrl: string;
}): PrivateKeyAccount {
  let key = config.posterPrivateKey;
  if (!key) {
    if (!isLoopbackUrl(config.bazaarApiUrl))
      throw new ConfigError(
        `POSTER_PRIVATE_KEY: needed to sign in as the poster on ${config.bazaarApiUrl} (a development key is only made for a marketplace on this machine)`,
      );
    key = loadOrCreate(join(config.stateDir, DEV_POSTER_KEY_FILE));
  }
  const hex = (key.startsWith("0x") ? key : `0x${key}`) as Hex;
  registerSecret(hex);
  registerSecret(hex.slice(2));
  return privateKeyToAccount(hex);
}

function loadOrCreate(path: string): string {
  try {
    return readFileSync(path, "utf8").trim();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
  }
  mkdirSync(join(path, ".."), { recursive: true });
  const key = generatePrivateKey();
  try {
    writeFileSync(path, `${key}\n`, { mode: 0o600, flag: "wx" });
    chmodSync(path, 0o600);
    return key;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    return readFileSync(path, "utf8").trim();
  }
}
