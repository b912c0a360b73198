#!/usr/bin/env node
// The compiled CLI when built (npm start builds it), else the TypeScript sources.
import { existsSync } from "node:fs";

const compiled = new URL("../dist/cli/main.js", import.meta.url);
const { main } = existsSync(compiled)
  ? await import(compiled.href)
  : await import(new URL("../src/cli/main.ts", import.meta.url).href);

const code = await main(process.argv);
if (code !== 0) process.exit(code);
