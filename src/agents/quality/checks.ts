import type { Job } from "../../marketplace/schemas.ts";
import { checkCitedLines } from "../tools/code-findings.ts";
import { findFences } from "../tools/fences.ts";
import { blocksForBidding } from "../tools/inputs.ts";
import { NO_LLM_LINE } from "../tools/markdown.ts";
import type { AskedFormat, JobAsk } from "./job-text.ts";
import { wordsOf } from "./job-text.ts";
import type { QualityCheck } from "./types.ts";

/**
 * The checks every deliverable gets, whatever agent made it: from the deliverable's
 * text and the job's, each bounded (a deliverable is read up to DELIVERABLE_SCAN_CHARS).
 */

export const DELIVERABLE_SCAN_CHARS = 200_000;
/** A JSON block longer than this is not parsed (its fence counts as the format). */
const MAX_JSON_PARSE_CHARS = 200_000;
/** Distinctive tokens of the job's data looked for in the deliverable. */
const DATA_SAMPLE = 30;
/** The share of the data's sampled tokens a deliverable that uses the data mentions. */
const DATA_USED_FULL = 0.3;

const check = (name: string, score: number, weight: number, reason: string): QualityCheck => ({
  name,
  score: Math.max(0, Math.min(1, score)),
  weight,
  reason,
});

/** Enough substance to be a deliverable. */
export function substanceCheck(output: string): QualityCheck {
  const chars = output.trim().length;
  if (chars < 200) return check("substance", 0.2, 1, `only ${chars} characters`);
  if (chars < 600) return check("substance", 0.6, 1, `a short answer (${chars} characters)`);
  return check("substance", 1, 1, `${chars} characters`);
}

const REFUSAL =
  /^\s*(?:I'm sorry|I am sorry|I cannot|I can't|I can not|I'm unable|I am unable|As an AI)\b/i;

/** An answer that declines the task earns nothing. */
export function refusalCheck(output: string): QualityCheck | undefined {
  if (!REFUSAL.test(output.slice(0, 200))) return undefined;
  return check("refusal", 0, 4, "the answer declines the task");
}

/** Deliverables made without the LLM (no key, or its call failed) are tables without an explanation. */
export function languageModelCheck(output: string): QualityCheck | undefined {
  const first = output.slice(0, 400).split("\n", 1)[0] ?? "";
  if (first === NO_LLM_LINE || first.startsWith("_Produced without a language model"))
    return check("language-model", 0.4, 1.5, "made by the deterministic tools alone (no LLM part)");
  return undefined;
}

/** A tool that could not run leaves part of the work undone. */
export function toolErrorCheck(output: string): QualityCheck | undefined {
  const failures = (output.match(/could not run|could not be validated|could not check/g) ?? [])
    .length;
  if (failures === 0) return undefined;
  return check("tools-ran", 0.4, 1, `${failures} tool step(s) could not run`);
}

function jsonParses(body: string): boolean {
  if (body.length > MAX_JSON_PARSE_CHARS) return true;
  try {
    JSON.parse(body);
    return true;
  } catch {
    return false;
  }
}

/** Whether the deliverable holds a format the job asked for. */
function hasFormat(format: AskedFormat, output: string, tags: Map<string, string[]>): boolean {
  const tagged = (...names: string[]) => names.some((n) => tags.has(n));
  switch (format) {
    case "json":
      return (tags.get("json") ?? []).some(jsonParses) || jsonParses(output.trim());
    case "yaml":
      return tagged("yaml", "yml");
    case "csv":
      return tagged("csv");
    case "sql":
      return tagged("sql") || /\bcreate\s+table\b/i.test(output);
    case "graphql":
      return tagged("graphql", "gql");
    case "openapi":
      return /\bopenapi\b["']?\s*:/i.test(output);
    case "table":
      return /^[ \t]*\|[ \t]*:?-{3,}/m.test(output);
    case "code":
      return tags.size > 0;
  }
}

/** The formats the job named, found in the deliverable. */
export function formatCheck(output: string, ask: JobAsk): QualityCheck | undefined {
  if (ask.formats.length === 0) return undefined;
  const tags = new Map<string, string[]>();
  for (const fence of findFences(output)) {
    const tag = fence.tag.toLowerCase();
    const bodies = tags.get(tag) ?? [];
    bodies.push(fence.body);
    tags.set(tag, bodies);
  }
  const missing = ask.formats.filter((f) => !hasFormat(f, output, tags));
  const given = ask.formats.length - missing.length;
  return check(
    "format",
    given / ask.formats.length,
    2,
    missing.length === 0
      ? `the format asked (${ask.formats.join(", ")}) is given`
      : `asked for ${ask.formats.join(", ")}; missing or invalid: ${missing.join(", ")}`,
  );
}

/** The job's requirements, each covered when half of its key words appear in the deliverable. */
export function requirementsCheck(
  outputWords: ReadonlySet<string>,
  ask: JobAsk,
): QualityCheck | undefined {
  if (ask.requirements.length === 0) return undefined;
  const missed: string[] = [];
  for (const r of ask.requirements) {
    const found = r.keyWords.filter((w) => outputWords.has(w)).length;
    if (found * 2 < r.keyWords.length) missed.push(r.text.slice(0, 60));
  }
  const covered = ask.requirements.length - missed.length;
  return check(
    "requirements",
    covered / ask.requirements.length,
    2,
    missed.length === 0
      ? `all ${covered} requirement(s) of the job addressed`
      : `${covered} of ${ask.requirements.length} requirements addressed; not: ${missed.map((m) => `"${m}"`).join("; ")}`,
  );
}

/** The distinctive tokens of the job's data (names, values), first ones first. */
function dataTokens(job: Job): string[] {
  const out = new Set<string>();
  for (const block of blocksForBidding(job)) {
    for (const word of wordsOf(block.text.slice(0, 50_000))) {
      if (word.length < 4 || /^\d{1,3}$/.test(word)) continue;
      out.add(word);
      if (out.size >= DATA_SAMPLE * 4) break;
    }
  }
  // Spread over the data rather than its first lines only.
  const all = [...out];
  if (all.length <= DATA_SAMPLE) return all;
  const step = all.length / DATA_SAMPLE;
  return Array.from({ length: DATA_SAMPLE }, (_, i) => all[Math.floor(i * step)] as string);
}

/** Whether the deliverable speaks of the job's data: its names and values. */
export function dataUsedCheck(
  job: Job,
  outputWords: ReadonlySet<string>,
): QualityCheck | undefined {
  const tokens = dataTokens(job);
  if (tokens.length < 3) return undefined;
  const found = tokens.filter((t) => outputWords.has(t)).length;
  return check(
    "data-used",
    found / (tokens.length * DATA_USED_FULL),
    1.5,
    `${found} of ${tokens.length} sampled names and values of the job's data appear`,
  );
}

const STRUCK = "[no such line in the reviewed code]";

/** Cited lines must exist in the job's input: counted on the deliverable against its blocks. */
export function citedLinesCheck(job: Job, output: string): QualityCheck | undefined {
  const files = blocksForBidding(job).map((b) => ({
    name: b.name,
    language: b.language,
    lines: b.text.replace(/\n$/, "").split("\n").length,
    linted: false,
  }));
  // Every citation is invalid against no file at all: that counts them.
  const cited = checkCitedLines(output, []).invalid.length;
  const struck = output.split(STRUCK).length - 1;
  if (cited === 0) return undefined;
  // Without the data (attached files) only what the executor struck out is known to be wrong.
  const invalid = files.length > 0 ? checkCitedLines(output, files).invalid.length : struck;
  const valid = Math.max(0, cited - invalid);
  return check(
    "cited-lines",
    valid / cited,
    2,
    invalid === 0
      ? `all ${cited} cited line(s) exist in the job's input`
      : `${invalid} of ${cited} cited line(s) do not exist in the job's input`,
  );
}
