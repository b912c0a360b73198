import { validate as validateOpenApi } from "@readme/openapi-parser";
import { Ajv2020 } from "ajv/dist/2020.js";
import addFormatsModule from "ajv-formats";
import { parse as parseCsv } from "csv-parse/sync";
import { buildSchema } from "graphql";
import NodeSqlParser from "node-sql-parser";
import { parse as parseYaml } from "yaml";
import type { InputBlock } from "./types.ts";

/**
 * SchemaArchitect's tools: infer a JSON Schema (draft 2020-12) from sample records and
 * prove that the samples validate against it (ajv), and check specifications with
 * real parsers: OpenAPI 3.x (@readme/openapi-parser, offline: no external $refs),
 * GraphQL SDL (graphql's buildSchema), SQL DDL (node-sql-parser, PostgreSQL and
 * MySQL) and JSON Schema (ajv).
 */

type JsonSchema = Record<string, unknown>;

// ajv-formats is CommonJS: its default export is the plugin function.
const addFormats = addFormatsModule as unknown as (ajv: Ajv2020) => Ajv2020;

function newAjv(): Ajv2020 {
  return addFormats(new Ajv2020({ allErrors: true, strict: false }));
}

export interface SampleSet {
  name: string;
  source: string;
  records: Record<string, unknown>[];
}

export interface InferredSchema {
  name: string;
  source: string;
  sampleCount: number;
  schema: JsonSchema;
  /** Whether every sample validates against the inferred schema (ajv). */
  samplesValid: boolean;
  errors: string[];
  /** PostgreSQL DDL for flat records, checked with node-sql-parser. */
  ddl: string | null;
  ddlValid: boolean | null;
}

export type ArtefactKind = "openapi" | "graphql" | "sql" | "json-schema";

export interface ArtefactCheck {
  name: string;
  kind: ArtefactKind;
  validator: string;
  ok: boolean;
  errors: string[];
}

const MAX_SAMPLES = 5000;

const FORMATS: [string, RegExp][] = [
  ["date-time", /^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/],
  ["date", /^\d{4}-\d{2}-\d{2}$/],
  ["email", /^[^\s@]+@[^\s@]+\.[^\s@]+$/],
  ["uuid", /^[0-9a-f]{8}-[0-9a-f]{4}-[1-8][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/i],
  ["uri", /^https?:\/\/[^\s]+$/],
];

function typeOf(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "array";
  if (typeof value === "number") return Number.isInteger(value) ? "integer" : "number";
  return typeof value;
}

/** A schema that every one of `values` (present values of one field) validates against. */
function inferValues(values: readonly unknown[]): JsonSchema {
  const types = new Set(values.map(typeOf));
  if (types.has("integer") && types.has("number")) types.delete("integer");
  const schema: JsonSchema = {};
  const list = [...types].sort();
  schema.type = list.length === 1 ? list[0] : list;
  if (types.has("string")) {
    const strings = values.filter((v): v is string => typeof v === "string");
    const format = FORMATS.find(([, re]) => strings.length > 0 && strings.every((s) => re.test(s)));
    if (format) schema.format = format[0];
  }
  if (types.has("object")) {
    const objects = values.filter(
      (v): v is Record<string, unknown> => !!v && typeof v === "object" && !Array.isArray(v),
    );
    Object.assign(schema, inferObject(objects));
  }
  if (types.has("array")) {
    const items = values.filter(Array.isArray).flat();
    if (items.length > 0) schema.items = inferValues(items);
  }
  return schema;
}

function inferObject(records: readonly Record<string, unknown>[]): JsonSchema {
  const keys = [...new Set(records.flatMap((r) => Object.keys(r)))];
  const properties: Record<string, JsonSchema> = {};
  const required: string[] = [];
  for (const key of keys) {
    const present = records.filter((r) => Object.hasOwn(r, key));
    properties[key] = inferValues(present.map((r) => r[key]));
    if (present.length === records.length) required.push(key);
  }
  return { properties, required };
}

export function inferJsonSchema(
  records: readonly Record<string, unknown>[],
  title: string,
): JsonSchema {
  return {
    $schema: "https://json-schema.org/draft/2020-12/schema",
    title,
    type: "object",
    ...inferObject(records),
  };
}

function ajvErrors(ajv: Ajv2020): string[] {
  return (ajv.errors ?? []).map(
    (e) => `${e.instancePath || "(root)"} ${e.message ?? "is invalid"}`,
  );
}

const SQL_TYPES: Record<string, string> = {
  integer: "BIGINT",
  number: "DOUBLE PRECISION",
  boolean: "BOOLEAN",
  string: "TEXT",
  object: "JSONB",
  array: "JSONB",
};

/** A quoted identifier, so that names like `user` or `order` (reserved words) still parse. */
function sqlIdentifier(name: string): string {
  const clean = name.replace(/[^A-Za-z0-9_]/g, "_").toLowerCase();
  return `"${clean || "field"}"`;
}

/** A PostgreSQL table for the records' top-level fields (nested values as JSONB). */
function ddlFor(schema: JsonSchema, table: string): string {
  const properties = (schema.properties ?? {}) as Record<string, JsonSchema>;
  const required = new Set((schema.required ?? []) as string[]);
  const columns = Object.entries(properties).map(([name, property]) => {
    const types = ([] as string[])
      .concat(property.type as string | string[])
      .filter((t) => t !== "null");
    let type =
      types.length === 1
        ? (SQL_TYPES[types[0]!] ?? "TEXT")
        : types.every((t) => t === "integer" || t === "number")
          ? "DOUBLE PRECISION"
          : "TEXT";
    if (type === "TEXT" && property.format === "date-time") type = "TIMESTAMPTZ";
    if (type === "TEXT" && property.format === "date") type = "DATE";
    if (type === "TEXT" && property.format === "uuid") type = "UUID";
    const nullable =
      required.has(name) && !([] as string[]).concat(property.type as string).includes("null");
    const key =
      /^(id|uuid)$/i.test(name) && nullable ? " PRIMARY KEY" : nullable ? " NOT NULL" : "";
    return `  ${sqlIdentifier(name)} ${type}${key}`;
  });
  return `CREATE TABLE ${sqlIdentifier(table)} (\n${columns.join(",\n")}\n);`;
}

function recordsOf(value: unknown): Record<string, unknown>[] | undefined {
  const isRecord = (v: unknown): v is Record<string, unknown> =>
    !!v && typeof v === "object" && !Array.isArray(v);
  if (Array.isArray(value)) {
    const records = value.filter(isRecord);
    return records.length > 0 && records.length === value.length ? records : undefined;
  }
  if (isRecord(value)) {
    // `{"orders": [...]}`: the one array of records inside.
    const inner = Object.values(value).filter(
      (v) => Array.isArray(v) && v.length > 0 && v.every(isRecord),
    );
    if (inner.length === 1) return inner[0] as Record<string, unknown>[];
    return [value];
  }
  return undefined;
}

function typedCell(text: string): unknown {
  const t = text.trim();
  if (t === "") return null;
  if (/^(true|false)$/i.test(t)) return t.toLowerCase() === "true";
  if (/^[-+]?\d+$/.test(t) && Number.isSafeInteger(Number(t))) return Number(t);
  if (/^[-+]?(\d+\.\d*|\.\d+|\d+)(e[-+]?\d+)?$/i.test(t)) return Number(t);
  return t;
}

/** Sample records in the job's data: JSON, JSON lines and CSV with a header. Specs are not samples. */
export function sampleSets(blocks: readonly InputBlock[]): SampleSet[] {
  const sets: SampleSet[] = [];
  for (const block of blocks) {
    let records: Record<string, unknown>[] | undefined;
    try {
      if (block.language === "json") {
        const value = JSON.parse(block.text) as unknown;
        if (artefactKindOf(block) !== undefined) continue;
        records = recordsOf(value);
      } else if (block.language === "jsonl") {
        records = recordsOf(
          block.text
            .split(/\r?\n/)
            .filter((l) => l.trim())
            .map((l) => JSON.parse(l) as unknown),
        );
      } else if (block.language === "csv" || block.language === "tsv") {
        const rows = parseCsv(block.text, {
          columns: true,
          skip_empty_lines: true,
          relax_column_count: true,
          delimiter: block.language === "tsv" ? "\t" : [",", ";"],
        }) as Record<string, string>[];
        records = rows.map((row) =>
          Object.fromEntries(Object.entries(row).map(([k, v]) => [k, typedCell(v)])),
        );
      }
    } catch {
      records = undefined;
    }
    if (records && records.length > 0) {
      sets.push({ name: block.name, source: block.source, records: records.slice(0, MAX_SAMPLES) });
    }
  }
  return sets;
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

/** What kind of specification a block is, if any. */
export function artefactKindOf(block: {
  language: string;
  text: string;
}): ArtefactKind | undefined {
  const text = block.text;
  if (
    ["yaml", "json"].includes(block.language) &&
    /^\s*\{?\s*["']?(openapi|swagger)["']?\s*:/m.test(text)
  )
    return "openapi";
  if (block.language === "graphql") return "graphql";
  if (block.language === "sql" && /\bcreate\s+(table|index|type|unique|view)\b/i.test(text))
    return "sql";
  if (block.language === "json" && /"\$schema"\s*:/.test(text)) return "json-schema";
  return undefined;
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
