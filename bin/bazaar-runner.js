#!/usr/bin/env node
// The runner's one door: node with the runtime flags (bin/runtime-flags.js, applied by
// bin/relaunch.js), then the compiled CLI when built (npm start builds it), else the
// TypeScript sources.
import { existsSync } from "node:fs";
import { relaunchWithRuntimeFlags } from "./relaunch.js";

if (!relaunchWithRuntimeFlags(import.meta.filename)) {
  const compiled = new URL("../dist/cli/main.js", import.meta.url);
  const { main } = existsSync(compiled)
    ? await import(compiled.href)
    : await import(new URL("../src/cli/main.ts", import.meta.url).href);

  const code = await main(process.argv);
  if (code !== 0) process.exit(code);
}
