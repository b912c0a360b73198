/**
 * Regenerates the README's table of environment variables from src/config/env.ts
 * (`npm run docs:env`). test/config/env-docs.test.ts fails while the two differ.
 */
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { envTableMarkdown } from "../src/config/env.ts";

export const README = join(import.meta.dirname, "../README.md");
const START = /<!-- env-table\b[^>]*-->\n/;
const END = "<!-- /env-table -->";

/** The README with the text between the env-table markers replaced by the generated table. */
export function withEnvTable(readme: string): string {
  const start = START.exec(readme);
  const end = readme.indexOf(END);
  if (!start || end < start.index) throw new Error("README.md has no env-table markers");
  const from = start.index + start[0].length;
  return `${readme.slice(0, from)}${envTableMarkdown()}\n${readme.slice(end)}`;
}

if (import.meta.main) {
  const before = await readFile(README, "utf8");
  const after = withEnvTable(before);
  if (after !== before) await writeFile(README, after);
  process.stdout.write(after === before ? "README.md is up to date\n" : "README.md updated\n");
}
