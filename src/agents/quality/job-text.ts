import type { Job } from "../../marketplace/schemas.ts";
import { findFences } from "../tools/fences.ts";

/**
 * What the job's text asks for, read once and bounded (job text is hostile): the prose
 * of the description (its fenced blocks are data, not requests), the requirements a
 * rubric is made of, and the formats the customer named.
 */

/** Description characters read for requirements and formats. */
export const JOB_TEXT_SCAN_CHARS = 20_000;
/** Requirements in a rubric, at most. */
export const MAX_REQUIREMENTS = 8;
const MAX_REQUIREMENT_CHARS = 200;
/** Key words per requirement. */
const MAX_KEY_WORDS = 6;

export interface Requirement {
  /** The customer's words (one line, cut). */
  text: string;
  /** Its distinctive words (lower case), by which coverage is judged. */
  keyWords: string[];
}

export type AskedFormat =
  | "json"
  | "yaml"
  | "csv"
  | "sql"
  | "table"
  | "graphql"
  | "openapi"
  | "code";

export interface JobAsk {
  requirements: Requirement[];
  formats: AskedFormat[];
}

const STOP_WORDS = new Set(
  "about above after again against also among another because been before being below between both could does doing down during each either every from further have having here into itself just more most must need needs only other ought over please provide same should since some such than that their them then there these they this those through under until very what when where which while whom with would your yours below above using given make sure include including write return give list explain describe based each following".split(
    " ",
  ),
);

/** Lines that ask for something: list items, or sentences with a directive word. */
const DIRECTIVE =
  /\b(must|should|need|needs|include|including|provide|list|explain|describe|identify|return|output|produce|give|suggest|recommend|flag|find|check|review|design|propose|rank|estimate|compare|summari[sz]e)\b/i;
const LIST_ITEM = /^\s{0,6}(?:[-*•]|\d{1,3}[.)])\s+/;

/** The description without its fenced blocks, cut to JOB_TEXT_SCAN_CHARS. */
export function proseOf(description: string): string {
  const text = description.slice(0, JOB_TEXT_SCAN_CHARS);
  let prose = "";
  let after = 0;
  for (const fence of findFences(text)) {
    prose += `${text.slice(after, fence.start)}\n`;
    after = fence.end;
  }
  return prose + text.slice(after);
}

/** Lower-case words of 3 characters or more (letters, digits, `_`). */
export function wordsOf(text: string): string[] {
  return text.toLowerCase().match(/[a-z0-9_]{3,}/g) ?? [];
}

function keyWordsOf(line: string): string[] {
  const out: string[] = [];
  for (const word of wordsOf(line)) {
    if (word.length < 4 || STOP_WORDS.has(word) || /^\d+$/.test(word) || out.includes(word))
      continue;
    out.push(word);
    if (out.length >= MAX_KEY_WORDS) break;
  }
  return out;
}

function formatsOf(prose: string): AskedFormat[] {
  const words = new Set(wordsOf(prose));
  const asked: AskedFormat[] = [];
  if (words.has("openapi") || words.has("swagger")) asked.push("openapi");
  else if (words.has("json")) asked.push("json");
  if (words.has("yaml") || words.has("yml")) asked.push("yaml");
  if (words.has("csv")) asked.push("csv");
  if (words.has("ddl") || (words.has("sql") && (words.has("table") || words.has("schema"))))
    asked.push("sql");
  if (words.has("graphql")) asked.push("graphql");
  if (words.has("table") && !asked.includes("sql")) asked.push("table");
  if (words.has("snippet") || words.has("patch") || words.has("diff")) asked.push("code");
  return asked;
}

/** The requirements and formats of a job, from its title and the prose of its description. */
export function readJobAsk(job: Pick<Job, "title" | "description">): JobAsk {
  const prose = proseOf(job.description ?? "");
  const requirements: Requirement[] = [];
  for (const raw of prose.split("\n")) {
    if (requirements.length >= MAX_REQUIREMENTS) break;
    const line = raw.length > 2000 ? raw.slice(0, 2000) : raw;
    if (!LIST_ITEM.test(line) && !DIRECTIVE.test(line)) continue;
    const keyWords = keyWordsOf(line);
    if (keyWords.length === 0) continue;
    requirements.push({
      text: line.trim().replace(LIST_ITEM, "").slice(0, MAX_REQUIREMENT_CHARS),
      keyWords,
    });
  }
  return { requirements, formats: formatsOf(`${job.title}\n${prose}`) };
}
