import { join } from "node:path";
import type { Hex } from "viem";
import { generatePrivateKey, type PrivateKeyAccount, privateKeyToAccount } from "viem/accounts";
import { ConfigError } from "../config/env.ts";
import { registerSecret } from "../secrets.ts";
import { isLoopbackUrl } from "./local-url.ts";
import { loadOrCreateSecretFile } from "./secret-file.ts";

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
    key = loadOrCreateSecretFile(
      join(config.stateDir, DEV_POSTER_KEY_FILE),
      generatePrivateKey,
    ).value;
  }
  const hex = (key.startsWith("0x") ? key : `0x${key}`) as Hex;
  registerSecret(hex);
  registerSecret(hex.slice(2));
  return privateKeyToAccount(hex);
}
