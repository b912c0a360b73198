import { validate as validateOpenApi } from "@readme/openapi-parser";
import { Ajv2020 } from "ajv/dist/2020.js";
import addFormatsModule from "ajv-formats";
import { buildSchema } from "graphql";
import NodeSqlParser from "node-sql-parser";
import { parse as parseYaml } from "yaml";
import {
  type ArtefactCheck,
  artefactKindOf,
  ddlFor,
  type InferredSchema,
  inferJsonSchema,
  type JsonSchema,
  type SampleSet,
  sampleSets,
} from "./schema-samples.ts";
import type { InputBlock } from "./types.ts";

export type { ArtefactCheck, ArtefactKind, InferredSchema, SampleSet } from "./schema-samples.ts";
export { artefactKindOf, inferJsonSchema, sampleSets };

/**
 * SchemaArchitect's tools: infer a JSON Schema (draft 2020-12) from sample records and
 * prove that the samples validate against it (ajv), and check specifications with
 * real parsers: OpenAPI 3.x (@readme/openapi-parser, offline: no external $refs),
 * GraphQL SDL (graphql's buildSchema), SQL DDL (node-sql-parser, PostgreSQL and
 * MySQL) and JSON Schema (ajv).
 */

// ajv-formats is CommonJS: its default export is the plugin function.
const addFormats = addFormatsModule as unknown as (ajv: Ajv2020) => Ajv2020;

function newAjv(): Ajv2020 {
  return addFormats(new Ajv2020({ allErrors: true, strict: false }));
}

function ajvErrors(ajv: Ajv2020): string[] {
  return (ajv.errors ?? []).map(
    (e) => `${e.instancePath || "(root)"} ${e.message ?? "is invalid"}`,
  );
}

export function inferSchemas(sets: readonly SampleSet[]): InferredSchema[] {
  const ajv = newAjv();
  return sets.map((set) => {
    const title = set.name.replace(/\.[^.]+$/, "").replace(/^block-\d+$/, "record");
    const schema = inferJsonSchema(set.records, title);
    const check = ajv.compile(schema);
    const errors: string[] = [];
    for (const [i, record] of set.records.entries()) {
      if (!check(record))
        errors.push(
          ...(check.errors ?? []).map((e) => `sample ${i + 1}: ${e.instancePath} ${e.message}`),
        );
      if (errors.length > 10) break;
    }
    const flat = Object.values((schema.properties ?? {}) as Record<string, JsonSchema>).length > 0;
    const ddl = flat ? ddlFor(schema, title) : null;
    const ddlValid = ddl ? checkSql(ddl, "PostgreSQL").length === 0 : null;
    return {
      name: set.name,
      source: set.source,
      sampleCount: set.records.length,
      schema,
      samplesValid: errors.length === 0,
      errors,
      ddl,
      ddlValid,
    };
  });
}

function sqlDialects(text: string): ("PostgreSQL" | "MySQL")[] {
  if (/\bauto_increment\b|\bengine\s*=|`/i.test(text)) return ["MySQL"];
  if (/\b(serial|bigserial|jsonb|timestamptz|uuid|bytea)\b|::/i.test(text)) return ["PostgreSQL"];
  return ["PostgreSQL", "MySQL"];
}

function checkSql(text: string, database: "PostgreSQL" | "MySQL"): string[] {
  const parser = new NodeSqlParser.Parser();
  try {
    parser.astify(text, { database });
    return [];
  } catch (error) {
    const message = (error as Error).message;
    const where = (error as { location?: { start?: { line?: number; column?: number } } }).location
      ?.start;
    return [
      `${where ? `line ${where.line}, column ${where.column}: ` : ""}${message.slice(0, 300)}`,
    ];
  }
}

/** Checks one specification with its parser. Never throws: a failure is a failed check. */
export async function checkArtefact(block: InputBlock): Promise<ArtefactCheck | undefined> {
  const kind = artefactKindOf(block);
  if (!kind) return undefined;
  const base = { name: block.name, kind };
  try {
    switch (kind) {
      case "openapi": {
        const doc =
          block.language === "json"
            ? (JSON.parse(block.text) as object)
            : (parseYaml(block.text) as object);
        // An object, not a path: nothing is read from disk or the network.
        const result = await validateOpenApi(structuredClone(doc) as never, {
          resolve: { external: false },
        });
        const version = String(
          (doc as { openapi?: unknown; swagger?: unknown }).openapi ??
            (doc as { swagger?: unknown }).swagger ??
            "?",
        );
        const errors = result.valid
          ? []
          : result.errors.map((e) => e.message.slice(0, 300)).slice(0, 10);
        if (result.valid && !version.startsWith("3."))
          errors.push(`openapi ${version} is not OpenAPI 3.x`);
        return {
          ...base,
          validator: `@readme/openapi-parser (OpenAPI ${version})`,
          ok: errors.length === 0,
          errors,
        };
      }
      case "graphql":
        buildSchema(block.text);
        return { ...base, validator: "graphql buildSchema", ok: true, errors: [] };
      case "sql": {
        const dialects = sqlDialects(block.text);
        const results = dialects.map((d) => ({ dialect: d, errors: checkSql(block.text, d) }));
        const passed = results.filter((r) => r.errors.length === 0).map((r) => r.dialect);
        return {
          ...base,
          validator: `node-sql-parser (${passed.length > 0 ? passed.join(", ") : dialects.join(" / ")})`,
          ok: passed.length > 0,
          errors:
            passed.length > 0
              ? []
              : results.flatMap((r) => r.errors.map((e) => `${r.dialect}: ${e}`)),
        };
      }
      case "json-schema": {
        const ajv = newAjv();
        ajv.compile(JSON.parse(block.text) as object);
        return { ...base, validator: "ajv (draft 2020-12)", ok: true, errors: ajvErrors(ajv) };
      }
    }
  } catch (error) {
    const validator = {
      openapi: "@readme/openapi-parser",
      graphql: "graphql buildSchema",
      sql: "node-sql-parser",
      "json-schema": "ajv (draft 2020-12)",
    }[kind];
    return {
      ...base,
      validator,
      ok: false,
      errors: [(error as Error).message.split("\n").slice(0, 3).join(" ").slice(0, 400)],
    };
  }
}

export async function checkArtefacts(blocks: readonly InputBlock[]): Promise<ArtefactCheck[]> {
  const checks: ArtefactCheck[] = [];
  for (const block of blocks) {
    const check = await checkArtefact(block);
    if (check) checks.push(check);
  }
  return checks;
}
