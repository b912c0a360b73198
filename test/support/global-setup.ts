import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { english } from "viem/accounts";
import { PRINTED_LOG } from "./printed-log.ts";
import { WATCHED_SECRETS } from "./test-secrets.ts";

/**
 * Suite-wide secret guard. Setup empties test-results/printed.log; every LogCapture
 * and RunnerProcess appends what the runner printed; teardown fails the run when a
 * test key or password turns up in it.
 */
export function setup(): void {
  mkdirSync(dirname(PRINTED_LOG), { recursive: true });
  writeFileSync(PRINTED_LOG, "");
}

export function teardown(): void {
  if (!existsSync(PRINTED_LOG)) return;
  const lines = readFileSync(PRINTED_LOG, "utf8").split("\n");
  const leaks: string[] = [];
  for (const secret of WATCHED_SECRETS) {
    const index = lines.findIndex((line) => line.includes(secret));
    if (index >= 0) leaks.push(`a test secret on line ${index + 1} of ${PRINTED_LOG}`);
  }
  // Any mnemonic at all (the development ones are random): 12 or more BIP-39 words in a row.
  const index = lines.findIndex(looksLikeMnemonic);
  if (index >= 0) leaks.push(`a BIP-39 mnemonic on line ${index + 1} of ${PRINTED_LOG}`);
  if (leaks.length > 0) {
    throw new Error(`secret leak: the runner printed ${leaks.join("; ")}`);
  }
}

const BIP39 = new Set(english);

/** True when a line holds 12 or more BIP-39 words in a row, separated by single spaces. */
export function looksLikeMnemonic(line: string): boolean {
  for (const [phrase] of line.matchAll(/[a-z]+(?: [a-z]+){11,}/g)) {
    let run = 0;
    for (const word of phrase.split(" ")) {
      run = BIP39.has(word) ? run + 1 : 0;
      if (run >= 12) return true;
    }
  }
  return false;
}
