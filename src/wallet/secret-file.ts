import { chmodSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { registerSecret } from "../secrets.ts";

/**
 * A secret kept in a file of RUNNER_STATE_DIR: read if it exists, else generated once
 * and written with mode 0600 (`wx`, so two processes starting together agree on the
 * first one written). The value is a registered secret either way.
 */
export function loadOrCreateSecretFile(
  path: string,
  generate: () => string,
): { value: string; created: boolean } {
  const read = (): string => {
    const value = readFileSync(path, "utf8").trim();
    registerSecret(value);
    return value;
  };
  try {
    return { value: read(), created: false };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
  }
  mkdirSync(dirname(path), { recursive: true });
  const value = generate();
  registerSecret(value);
  try {
    writeFileSync(path, `${value}\n`, { mode: 0o600, flag: "wx" });
    chmodSync(path, 0o600); // the umask may have taken bits away, never added: make it exact
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    return { value: read(), created: false };
  }
  return { value, created: true };
}
