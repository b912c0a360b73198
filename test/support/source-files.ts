import { readdirSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));

/** The TypeScript files under `dir` (relative to the repository), with their text, for tests that read the sources. */
export function sourceFiles(dir: string): { file: string; text: string }[] {
  const base = `${ROOT}${dir.replace(/\/?$/, "/")}`;
  return readdirSync(base, { recursive: true, encoding: "utf8" })
    .filter((file) => file.endsWith(".ts"))
    .map((file) => ({ file, text: readFileSync(`${base}${file}`, "utf8") }));
}
