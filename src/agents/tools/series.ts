import { parse } from "csv-parse/sync";
import type { InputBlock } from "./types.ts";

/** A numeric series found in a job's data: values in order, with their timestamps when known. */
export interface Series {
  /** "cpu_pct in sensor.csv". */
  name: string;
  source: string;
  values: number[];
  /** One label per value (a timestamp), or null when the data has none (indexes are used). */
  labels: string[] | null;
}

export interface SeriesParse {
  series: Series[];
  notes: string[];
}

/** Fewer points than this is not a series worth analysing. */
export const MIN_POINTS = 8;
const MAX_SERIES_PER_BLOCK = 6;
const MAX_POINTS = 200_000;

const TIME_NAME =
  /^(time|timestamp|ts|date|datetime|day|hour|minute|period|when|at|created_at|recorded_at|t)$/i;
const ID_NAME = /(^id$|_id$|^index$|^idx$|^row$|^seq)/i;

/** `\d+(\.\d*)?`, not `\d+\.?\d*`: two adjacent digit runs made a long token quadratic. */
const NUMBER = /^[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:e[-+]?\d+)?$/i;

function toNumber(value: unknown): number | undefined {
  if (typeof value === "number") return Number.isFinite(value) ? value : undefined;
  if (typeof value !== "string") return undefined;
  const text = value.trim().replace(/^\$/, "").replace(/%$/, "");
  if (text === "" || !NUMBER.test(text)) return undefined;
  return Number(text);
}

function looksLikeTime(value: unknown): boolean {
  if (typeof value !== "string") return false;
  return (
    /^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$/.test(
      value.trim(),
    ) || /^\d{1,2}:\d{2}(:\d{2})?$/.test(value.trim())
  );
}

/** Series from a table of records: a time column (if any) and each numeric column. */
function fromRecords(
  records: Record<string, unknown>[],
  source: string,
  notes: string[],
): Series[] {
  if (records.length < MIN_POINTS) return [];
  if (records.length > MAX_POINTS) {
    notes.push(`${source}: analysed the first ${MAX_POINTS} of ${records.length} rows.`);
    records = records.slice(0, MAX_POINTS);
  }
  const keys = [...new Set(records.slice(0, 50).flatMap((r) => Object.keys(r)))];
  const timeKey =
    keys.find((k) => TIME_NAME.test(k) && records.every((r) => r[k] != null)) ??
    keys.find((k) => records.slice(0, 50).every((r) => looksLikeTime(r[k])));
  const numeric = keys.filter((k) => {
    if (k === timeKey || ID_NAME.test(k)) return false;
    const parsed = records.filter((r) => toNumber(r[k]) !== undefined).length;
    return parsed >= records.length * 0.9;
  });
  if (numeric.length > MAX_SERIES_PER_BLOCK) {
    notes.push(
      `${source}: analysed the first ${MAX_SERIES_PER_BLOCK} of ${numeric.length} numeric columns.`,
    );
  }
  const out: Series[] = [];
  for (const key of numeric.slice(0, MAX_SERIES_PER_BLOCK)) {
    const values: number[] = [];
    const labels: string[] = [];
    let dropped = 0;
    records.forEach((record, i) => {
      const value = toNumber(record[key]);
      if (value === undefined) {
        dropped++;
        return;
      }
      values.push(value);
      labels.push(timeKey ? String(record[timeKey]) : String(i));
    });
    if (dropped > 0) notes.push(`${key} in ${source}: ${dropped} non-numeric value(s) left out.`);
    out.push({ name: `${key} in ${source}`, source, values, labels: timeKey ? labels : null });
  }
  return out;
}

function parseCsv(text: string, delimiter?: string): string[][] {
  return parse(text, {
    delimiter: delimiter ?? detectDelimiter(text),
    relax_column_count: true,
    skip_empty_lines: true,
    trim: true,
    comment: "#",
  }) as string[][];
}

function detectDelimiter(text: string): string {
  const first = text.split("\n", 1)[0] ?? "";
  const counts: [string, number][] = [",", "\t", ";", "|"].map((d) => [d, first.split(d).length]);
  return counts.sort((a, b) => b[1] - a[1])[0]?.[0] ?? ",";
}

/** Rows to records: the first row is a header when any of its cells is not a number. */
function rowsToRecords(rows: string[][]): Record<string, unknown>[] {
  const [first, ...rest] = rows;
  if (!first) return [];
  const header = first.some((cell) => toNumber(cell) === undefined && !looksLikeTime(cell));
  const names = header
    ? first.map((c, i) => c || `column_${i + 1}`)
    : first.map((_, i) => `column_${i + 1}`);
  return (header ? rest : rows).map((row) =>
    Object.fromEntries(names.map((name, i) => [name, row[i]])),
  );
}

function fromJson(value: unknown, source: string, notes: string[], depth = 0): Series[] {
  if (Array.isArray(value)) {
    if (value.length >= MIN_POINTS && value.every((v) => toNumber(v) !== undefined)) {
      return [
        {
          name: `values in ${source}`,
          source,
          values: value.map((v) => toNumber(v)!),
          labels: null,
        },
      ];
    }
    const records = value.filter(
      (v): v is Record<string, unknown> => !!v && typeof v === "object" && !Array.isArray(v),
    );
    if (records.length >= value.length * 0.9) return fromRecords(records, source, notes);
    return [];
  }
  if (value && typeof value === "object" && depth < 2) {
    return Object.entries(value as Record<string, unknown>).flatMap(([key, inner]) =>
      Array.isArray(inner) || (inner && typeof inner === "object")
        ? fromJson(inner, `${source} → ${key}`, notes, depth + 1)
        : [],
    );
  }
  return [];
}

/** What follows a key: `=` or `:`, a number, an optional unit. */
const READING = /[=:]\s*(-?\d+(?:\.\d+)?)(?:ms|s|%)?\b/y;

function isWordChar(code: number): boolean {
  return (
    (code >= 0x30 && code <= 0x39) ||
    (code >= 0x41 && code <= 0x5a) ||
    (code >= 0x61 && code <= 0x7a) ||
    code === 0x5f
  );
}

/**
 * The `key=number` readings of one line: what
 * `/\b([A-Za-z_][\w.]*)[=:]\s*(-?\d+(?:\.\d+)?)(?:ms|s|%)?\b/g` finds, in linear time. The
 * regex tried a key at every word start of a dotted run (`a.b.c.…`), each read to the
 * run's end: quadratic. Every key begun inside one run ends where the run ends, so
 * when the first fails, all the others do: the scan moves past the run.
 */
export function logReadings(line: string): { key: string; value: number }[] {
  const out: { key: string; value: number }[] = [];
  let i = 0;
  while (i < line.length) {
    // A key starts at a letter or `_` after a non-word character (`\b[A-Za-z_]`).
    const code = line.charCodeAt(i);
    const keyStart = isWordChar(code) && code > 0x39 && !isWordChar(line.charCodeAt(i - 1));
    if (!keyStart) {
      i++;
      continue;
    }
    let end = i + 1;
    while (end < line.length && (isWordChar(line.charCodeAt(end)) || line[end] === ".")) end++;
    READING.lastIndex = end;
    const reading = READING.exec(line);
    if (reading) {
      out.push({ key: line.slice(i, end), value: Number(reading[1]) });
      i = READING.lastIndex;
    } else {
      i = end;
    }
  }
  return out;
}

/** Key=value or key: value numbers of log lines that start with a timestamp. */
function fromLog(text: string, source: string): Series[] {
  const byKey = new Map<string, { values: number[]; labels: string[] }>();
  for (const line of text.split(/\r?\n/)) {
    const time =
      /^\s*\[?(\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)/.exec(
        line,
      );
    if (!time?.[1]) continue;
    for (const { key, value } of logReadings(line)) {
      const entry = byKey.get(key) ?? { values: [], labels: [] };
      entry.values.push(value);
      entry.labels.push(time[1]);
      byKey.set(key, entry);
    }
  }
  return [...byKey.entries()]
    .filter(([, e]) => e.values.length >= MIN_POINTS)
    .slice(0, MAX_SERIES_PER_BLOCK)
    .map(([key, e]) => ({
      name: `${key} in ${source}`,
      source,
      values: e.values,
      labels: e.labels,
    }));
}

/** The numeric series in one input block, by its language. */
export function seriesOfBlock(block: InputBlock, notes: string[]): Series[] {
  const label = block.name;
  const text = block.text;
  try {
    switch (block.language) {
      case "csv":
      case "tsv":
        return fromRecords(
          rowsToRecords(parseCsv(text, block.language === "tsv" ? "\t" : undefined)),
          label,
          notes,
        );
      case "json":
        return fromJson(JSON.parse(text), label, notes);
      case "jsonl":
        return fromJson(
          text
            .split(/\r?\n/)
            .filter((l) => l.trim())
            .map((l) => JSON.parse(l) as unknown),
          label,
          notes,
        );
      case "log":
        return fromLog(text, label);
      case "numbers":
      case "text": {
        const tokens = text.split(/[\s,;]+/).filter((t) => t !== "");
        const values = tokens.map(toNumber);
        if (tokens.length >= MIN_POINTS && values.every((v) => v !== undefined)) {
          return [
            { name: `values in ${label}`, source: label, values: values as number[], labels: null },
          ];
        }
        if (block.language === "text" && looksDelimitedText(text)) {
          return fromRecords(rowsToRecords(parseCsv(text)), label, notes);
        }
        return block.language === "text" ? fromLog(text, label) : [];
      }
      default:
        return [];
    }
  } catch (error) {
    notes.push(
      `Could not parse ${block.source} as ${block.language}: ${(error as Error).message.split("\n")[0]}`,
    );
    return [];
  }
}

function looksDelimitedText(text: string): boolean {
  const lines = text
    .split(/\r?\n/)
    .filter((l) => l.trim() !== "")
    .slice(0, 20);
  if (lines.length < 3) return false;
  const counts = lines.map((l) => l.split(",").length);
  return counts.every((c) => c === counts[0] && c > 1);
}

export function parseSeries(blocks: readonly InputBlock[]): SeriesParse {
  const notes: string[] = [];
  const series = blocks.flatMap((block) => seriesOfBlock(block, notes));
  return { series, notes };
}
