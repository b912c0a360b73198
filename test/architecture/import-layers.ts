import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve, sep } from "node:path";
import ts from "typescript";

/**
 * The layers of src/, lowest first. A file may import from its own layer or a lower
 * one, never from a higher one. Folders are named by their first path segment under
 * src/; the shared helpers are the single files at the top of src/.
 */
export const LAYERS: readonly { name: string; members: readonly string[] }[] = [
  // The error base and the secret scrubber its messages go through: below everything,
  // so that even config's ConfigError is one of the runner's errors.
  { name: "errors", members: ["errors.ts", "secrets.ts"] },
  { name: "config", members: ["config"] },
  {
    name: "shared helpers",
    // `contract` is the API both marketplace sides share (routes, statuses, shapes);
    // `web` what the dashboard and the poster page share (base styles, DOM helpers, serving).
    // `tracing` the spans; `sqlite.ts` the SQLite set-up (migrations, transactions) the
    // ledger and the embedded marketplace share; `self-clocked.ts` the batching of
    // concurrent calls (the MongoDB ledger, leases, the config source's write-backs).
    members: [
      "logger.ts",
      "metrics.ts",
      "retry.ts",
      "pool.ts",
      "self-clocked.ts",
      "sqlite.ts",
      "tracing",
      "contract",
      "web",
    ],
  },
  {
    name: "clients and services",
    members: ["llm", "marketplace", "state", "marketplace-server", "wallet"],
  },
  { name: "agents", members: ["agents"] },
  { name: "agent-configs", members: ["agent-configs"] },
  { name: "runner", members: ["runner"] },
  { name: "http", members: ["http"] },
  { name: "cli", members: ["cli"] },
];

/**
 * Inside a layer folder, its sub-folders, lowest first, under the same rule: a file may
 * import from its own sub-layer or a lower one. ROOT stands for the files directly in the
 * folder (for the runner: runner.ts and the units that compose it), the top sub-layer.
 */
export const ROOT = "(root files)";
export const SUBLAYERS: Readonly<Record<string, readonly string[]>> = {
  runner: [
    "policy",
    "telemetry",
    "feed",
    "bidding",
    "delivery",
    "negotiation",
    "presence",
    "fleet",
    "replicas",
    ROOT,
  ],
};

/** One import that points the wrong way, or a file no layer claims. */
export interface LayerViolation {
  /** `runner/x.ts:12 → cli/y.ts`, paths relative to the checked root. */
  text: string;
}

const SOURCE = /\.(ts|js|mjs)$/;

function layerOf(relativePath: string): number | undefined {
  const first = relativePath.split(sep)[0] ?? relativePath;
  const index = LAYERS.findIndex((layer) => layer.members.includes(first));
  return index === -1 ? undefined : index;
}

/**
 * The sub-layer of a file inside a folder that has sub-layers: its index and name; null
 * when the folder has none; undefined when the file's sub-folder is in no sub-layer.
 */
function subLayerOf(relativePath: string): { index: number; name: string } | null | undefined {
  const [first = "", second, ...rest] = relativePath.split(sep);
  const order = SUBLAYERS[first];
  if (!order || second === undefined) return null;
  const name = rest.length === 0 ? ROOT : second;
  const index = order.indexOf(name);
  return index === -1 ? undefined : { index, name };
}

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...sourceFiles(path));
    else if (SOURCE.test(entry.name) && !entry.name.endsWith(".d.ts")) out.push(path);
  }
  return out.sort();
}

function lineOf(text: string, pos: number): number {
  let line = 1;
  for (let i = 0; i < pos; i++) if (text.charCodeAt(i) === 10) line += 1;
  return line;
}

/**
 * Reads every source file under `root` (src/, or a fixture shaped like it) and returns
 * the relative imports that point to a higher layer, plus files outside every layer
 * (a new folder must be placed in LAYERS before it can be checked).
 */
export function checkImportLayers(root: string): LayerViolation[] {
  const violations: LayerViolation[] = [];
  for (const file of sourceFiles(root)) {
    const from = relative(root, file);
    const fromLayer = layerOf(from);
    if (fromLayer === undefined) {
      violations.push({ text: `${from}: in no layer (add its folder to LAYERS)` });
      continue;
    }
    const fromSub = subLayerOf(from);
    if (fromSub === undefined) {
      violations.push({ text: `${from}: in no sub-layer (add its folder to SUBLAYERS)` });
      continue;
    }
    const text = readFileSync(file, "utf8");
    // Static imports, re-exports, `import type` and dynamic `import()` alike.
    const { importedFiles } = ts.preProcessFile(text, true, true);
    for (const imported of importedFiles) {
      if (!imported.fileName.startsWith(".")) continue;
      const target = relative(root, resolve(dirname(file), imported.fileName));
      if (target.startsWith("..")) continue;
      const toLayer = layerOf(target);
      if (toLayer === undefined || toLayer < fromLayer) continue;
      const at = `${from}:${lineOf(text, imported.pos)} → ${target}`;
      if (toLayer > fromLayer) {
        violations.push({
          text: `${at} (${LAYERS[fromLayer]?.name} may not import ${LAYERS[toLayer]?.name})`,
        });
        continue;
      }
      // The same layer: within a folder with sub-layers, down or sideways only.
      const toSub = subLayerOf(target);
      if (!fromSub || !toSub || target.split(sep)[0] !== from.split(sep)[0]) continue;
      if (toSub.index > fromSub.index)
        violations.push({
          text: `${at} (${from.split(sep)[0]}/${fromSub.name} may not import ${toSub.name})`,
        });
    }
  }
  return violations;
}

/**
 * Every file under `root` that the files of `folder` import, directly or through
 * other files (static imports, re-exports, `import type` and `import()` alike), as
 * paths relative to `root`.
 */
export function reachableFrom(root: string, folder: string): Set<string> {
  const seen = new Set<string>();
  const queue = sourceFiles(join(root, folder));
  while (queue.length > 0) {
    const file = queue.pop() as string;
    const from = relative(root, file);
    if (seen.has(from)) continue;
    seen.add(from);
    const { importedFiles } = ts.preProcessFile(readFileSync(file, "utf8"), true, true);
    for (const imported of importedFiles) {
      if (!imported.fileName.startsWith(".")) continue;
      const target = resolve(dirname(file), imported.fileName);
      if (!relative(root, target).startsWith("..") && SOURCE.test(target)) queue.push(target);
    }
  }
  return seen;
}
