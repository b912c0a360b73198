import { parse as parseCsv } from "csv-parse/sync";
import type { InputBlock } from "./types.ts";

/**
 * The light half of SchemaArchitect's tools: finding sample records and
 * specifications in a job, inferring a JSON Schema (draft 2020-12) and a PostgreSQL
 * table from records, and the result types. schema.ts adds the validators (ajv, the
 * OpenAPI parser, graphql, node-sql-parser); it is loaded in the worker thread only.
 */

export type JsonSchema = Record<string, unknown>;

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
  // The first dot after the domain's first character: `[^\s@]+\.[^\s@]+` backtracked over every dot.
  ["email", /^[^\s@]+@[^\s@][^\s@.]*\.[^\s@]+$/],
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
export function ddlFor(schema: JsonSchema, table: string): string {
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

/** What kind of specification a block is, if any. */
export function artefactKindOf(block: {
  language: string;
  text: string;
}): ArtefactKind | undefined {
  const text = block.text;
  if (["yaml", "json"].includes(block.language) && hasOpenApiKey(text)) return "openapi";
  if (block.language === "graphql") return "graphql";
  if (block.language === "sql" && /\bcreate\s+(table|index|type|unique|view)\b/i.test(text))
    return "sql";
  if (block.language === "json" && /"\$schema"\s*:/.test(text)) return "json-schema";
  return undefined;
}

/** An `openapi:` or `swagger:` key after `{` or a quote: the tail of the check below. */
const OPENAPI_KEY = /\{?\s*["']?(?:openapi|swagger)["']?\s*:/y;

function isSpace(code: number): boolean {
  if (code < 128) return code === 32 || (code >= 9 && code <= 13);
  return /\s/.test(String.fromCharCode(code));
}

function isLineEnd(code: number): boolean {
  return code === 0x0a || code === 0x0d || code === 0x2028 || code === 0x2029;
}

/**
 * What `/^\s*\{?\s*["']?(openapi|swagger)["']?\s*:/m` tells, in linear time. Its `^\s*`
 * crossed blank lines from every line start and `\{?\s*` split each run again: cubic
 * in a run of newlines. The key can only begin at the first
 * non-space character after a line start, so the tail is tried there alone.
 */
export function hasOpenApiKey(text: string): boolean {
  let lineStart = true;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (isLineEnd(code)) {
      lineStart = true;
      continue;
    }
    if (isSpace(code)) continue;
    if (lineStart) {
      OPENAPI_KEY.lastIndex = i;
      if (OPENAPI_KEY.test(text)) return true;
      lineStart = false;
    }
  }
  return false;
}
