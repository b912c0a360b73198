import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { checkImportLayers, reachableFrom } from "./import-layers.ts";

const SRC = resolve(import.meta.dirname, "../../src");

describe("import layers", () => {
  it("no file in src/ imports from a higher layer", () => {
    // The messages name each offending import (file:line → target), so a failure says what to move.
    expect(checkImportLayers(SRC).map((v) => v.text)).toEqual([]);
  });

  it("the runner never reaches the embedded marketplace, not even through another file", () => {
    // The marketplace-server sits in a lower layer, so the layer rule alone allows it; the
    // runner talks to any marketplace through the client and src/contract only.
    const reached = [...reachableFrom(SRC, "runner")];
    expect(reached.filter((file) => file.startsWith("marketplace-server"))).toEqual([]);
    expect(reached).toContain("contract/routes.ts");
    // The walk does find it where it is imported: the CLI starts the embedded marketplace.
    expect([...reachableFrom(SRC, "cli")]).toContain("marketplace-server/index.ts");
  });

  describe("the checker itself, over a planted fixture", () => {
    const root = mkdtempSync(join(tmpdir(), "layers-"));
    const write = (path: string, text: string) => {
      mkdirSync(dirname(join(root, path)), { recursive: true });
      writeFileSync(join(root, path), text);
    };
    write("config/env.ts", "export const env = 1;\n");
    write("logger.ts", 'import { env } from "./config/env.ts";\nexport const log = env;\n');
    write("runner/status.ts", 'import { log } from "../logger.ts";\nexport const s = log;\n');
    write(
      "agent-configs/types.ts",
      [
        'import { env } from "../config/env.ts";',
        'import type { S } from "../runner/status.ts";',
        'export { s } from "../runner/status.ts";',
        'const late = () => import("../cli/main.ts");',
        "export type T = S | typeof env | typeof late;",
        "",
      ].join("\n"),
    );
    write("cli/main.ts", 'import { s } from "../runner/status.ts";\nexport const m = s;\n');
    write("gadgets/thing.ts", "export const thing = 1;\n");
    // Inside the runner: policy is lowest, the root files highest.
    write(
      "runner/policy/rule.ts",
      'import type { W } from "../fleet/worker.ts";\nexport type R = W | 1;\n',
    );
    write(
      "runner/fleet/worker.ts",
      [
        'import { log } from "../../logger.ts";',
        'import type { R } from "../policy/rule.ts";',
        'import type { Tenure } from "./tenure.ts";',
        'import type { s } from "../status.ts";',
        "export type W = R | Tenure | typeof log | typeof s;",
        "",
      ].join("\n"),
    );
    write("runner/fleet/tenure.ts", "export type Tenure = 2;\n");
    write("runner/gizmos/x.ts", "export const x = 1;\n");
    afterAll(() => rmSync(root, { recursive: true, force: true }));

    it("names each upward import with its file and line, and each unplaced file", () => {
      expect(checkImportLayers(root).map((v) => v.text)).toEqual([
        "agent-configs/types.ts:2 → runner/status.ts (agent-configs may not import runner)",
        "agent-configs/types.ts:3 → runner/status.ts (agent-configs may not import runner)",
        "agent-configs/types.ts:4 → cli/main.ts (agent-configs may not import cli)",
        "gadgets/thing.ts: in no layer (add its folder to LAYERS)",
        "runner/fleet/worker.ts:4 → runner/status.ts (runner/fleet may not import (root files))",
        "runner/gizmos/x.ts: in no sub-layer (add its folder to SUBLAYERS)",
        "runner/policy/rule.ts:1 → runner/fleet/worker.ts (runner/policy may not import fleet)",
      ]);
    });

    it("lets a runner sub-folder import its own and lower sub-folders, and the root files all", () => {
      // runner/status.ts (a root file) imports the shared helpers; fleet imports policy and
      // itself: none of these is named above. Without the sub-layers none would be caught.
      const texts = checkImportLayers(root).map((v) => v.text);
      expect(texts.filter((t) => t.includes("→ runner/policy/"))).toEqual([]);
      expect(texts.filter((t) => t.includes("→ runner/fleet/tenure.ts"))).toEqual([]);
    });
  });
});
