#!/usr/bin/env node
// Node 24 runs the TypeScript sources directly (type stripping); no build step.
import { main } from "../src/cli/main.ts";

const code = await main(process.argv);
if (code !== 0) process.exit(code);
