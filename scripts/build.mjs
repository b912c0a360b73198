#!/usr/bin/env node
// Compiles src/ to dist/ (JavaScript: no type stripping, hence no WebAssembly compiler,
// at run time) and copies the pages' static files. Runs before `npm start` and
// `npm run bazaar-runner`; does nothing when dist/ is newer than every source file.
// `--force` rebuilds. Without TypeScript (a production install) an existing dist/ is used.
import { execFileSync } from "node:child_process";
import { cpSync, existsSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const src = join(root, "src");
const dist = join(root, "dist");
const stamp = join(dist, ".built");

/** @param {string} dir */
function newest(dir) {
  let latest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    latest = Math.max(latest, entry.isDirectory() ? newest(path) : statSync(path).mtimeMs);
  }
  return latest;
}

const inputs = Math.max(
  newest(src),
  statSync(join(root, "tsconfig.json")).mtimeMs,
  statSync(join(root, "tsconfig.build.json")).mtimeMs,
);
const force = process.argv.includes("--force");
if (!force && existsSync(stamp) && statSync(stamp).mtimeMs >= inputs) process.exit(0);

const tsc = join(root, "node_modules", "typescript", "bin", "tsc");
if (!existsSync(tsc)) {
  if (existsSync(join(dist, "cli", "main.js"))) process.exit(0);
  process.stderr.write(
    "bazaar-runner: dist/ is missing and TypeScript is not installed: run npm install\n",
  );
  process.exit(1);
}
process.stderr.write("bazaar-runner: compiling src/ to dist/ …\n");
try {
  execFileSync(process.execPath, [tsc, "-p", join(root, "tsconfig.build.json")], {
    stdio: "inherit",
  });
} catch {
  process.exit(1);
}
// The dashboard's browser files as they are; its .ts files are types for tsc only.
cpSync(join(src, "http", "dashboard"), join(dist, "http", "dashboard"), {
  recursive: true,
  filter: (path) => !path.endsWith(".ts"),
});
// The marketplace's poster page, likewise.
cpSync(join(src, "marketplace-server", "poster"), join(dist, "marketplace-server", "poster"), {
  recursive: true,
});
// The base styles and DOM helpers both pages share, likewise.
cpSync(join(src, "web", "assets"), join(dist, "web", "assets"), { recursive: true });
writeFileSync(stamp, `${new Date().toISOString()}\n`);
