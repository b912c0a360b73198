import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
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
  if (leaks.length > 0) {
    throw new Error(`secret leak: the runner printed ${leaks.join("; ")}`);
  }
}
