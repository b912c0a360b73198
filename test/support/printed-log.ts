import { appendFileSync, mkdirSync } from "node:fs";
import { dirname, join } from "node:path";

/**
 * Everything the runner printed during the test run (captured logs, child processes'
 * stdout and stderr), appended to one file that the global teardown greps for secrets.
 */
export const PRINTED_LOG = join(import.meta.dirname, "../../test-results/printed.log");

let ready = false;

export function appendPrinted(text: string): void {
  if (text === "") return;
  if (!ready) {
    mkdirSync(dirname(PRINTED_LOG), { recursive: true });
    ready = true;
  }
  appendFileSync(PRINTED_LOG, text.endsWith("\n") ? text : `${text}\n`);
}
