import { extname } from "node:path";
import { attachmentBytes } from "../../contract/responses.ts";
import { JOB_TEXT_CHARS } from "../../marketplace/limits.ts";
import { findFences } from "./fences.ts";
import type { InputBlock, JobInputs } from "./types.ts";

/**
 * Finds the data in a job: fenced code blocks (language from the fence), inline CSV,
 * JSON, number lists and pasted logs in the description, and attached files (language
 * from the extension). Everything is bounded: a job cannot make the agent read without
 * limit, and whatever is skipped is said in `notes`.
 */

export interface InputLimits {
  /** Most blocks kept (description and files together). */
  maxBlocks: number;
  /** Longest block kept whole; a longer one is cut there, with a note. */
  maxBlockChars: number;
  /** Most characters kept in all. */
  maxTotalChars: number;
  /** Most attached files read. */
  maxFiles: number;
  /** Largest attached file read, in bytes. */
  maxFileBytes: number;
}

export const DEFAULT_INPUT_LIMITS: InputLimits = {
  maxBlocks: 20,
  maxBlockChars: 1_000_000,
  maxTotalChars: 4_000_000,
  maxFiles: 5,
  maxFileBytes: 2 * 1024 * 1024,
};

/**
 * The evaluator's bound: parsing for a bid decision looks at this much of the
 * description. The client keeps a listed job's other strings to the same length.
 */
export const EVALUATION_SCAN_CHARS = JOB_TEXT_CHARS;

const LANGUAGE_ALIASES: Record<string, string> = {
  js: "javascript",
  mjs: "javascript",
  cjs: "javascript",
  jsx: "javascript",
  node: "javascript",
  ts: "typescript",
  tsx: "typescript",
  mts: "typescript",
  cts: "typescript",
  py: "python",
  python3: "python",
  rb: "ruby",
  yml: "yaml",
  gql: "graphql",
  sh: "shell",
  bash: "shell",
  zsh: "shell",
  ndjson: "jsonl",
  psql: "sql",
  postgres: "sql",
  postgresql: "sql",
  mysql: "sql",
  txt: "text",
  plaintext: "text",
  md: "markdown",
  golang: "go",
  cs: "csharp",
  kt: "kotlin",
  rs: "rust",
};

export function normalizeLanguage(tag: string): string {
  const lower = tag.trim().toLowerCase().replace(/^\./, "");
  // Own entries only: a fence tagged `constructor` is not a function.
  return Object.hasOwn(LANGUAGE_ALIASES, lower) ? (LANGUAGE_ALIASES[lower] as string) : lower;
}

/** The language of a file, by its extension. */
export function languageOfFile(filename: string): string {
  return normalizeLanguage(extname(filename)) || "text";
}

const FILE_EXTENSION: Record<string, string> = {
  javascript: "js",
  typescript: "ts",
  python: "py",
  ruby: "rb",
  shell: "sh",
  text: "txt",
  numbers: "txt",
  log: "log",
};

/** A citable name for the n-th block of the description. */
function blockName(n: number, language: string): string {
  const extension = Object.hasOwn(FILE_EXTENSION, language) ? FILE_EXTENSION[language] : language;
  return `block-${n}.${extension || "txt"}`;
}

const TIMESTAMP_START = /^\s*\[?\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}/;
/** `\d+(\.\d*)?`, not `\d+\.?\d*`: two adjacent digit runs made a long token quadratic. */
const NUMBER = /^[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:e[-+]?\d+)?$/i;

/** Whether a code unit separates number-list tokens: `[\s,;]` (\s: every Unicode space, all in the BMP). */
function separatesTokens(code: number): boolean {
  if (code === 0x2c || code === 0x3b || code === 0x20 || (code >= 0x09 && code <= 0x0d))
    return true;
  return code >= 0x80 && /\s/.test(String.fromCharCode(code));
}

/** Whether a code unit can begin a NUMBER: a sign, a digit or a point. */
function beginsNumber(code: number): boolean {
  return code === 0x2d || code === 0x2b || code === 0x2e || (code >= 0x30 && code <= 0x39);
}

/**
 * Whether at most 10 % of the text's tokens (runs between `[\s,;]`) are other than
 * numbers, with at least 8 tokens. Counted in place, in one pass: a token that cannot
 * begin a number is not one (no slice, no regex), and prose fails as soon as its
 * non-numbers pass a tenth of the most tokens the text could still hold.
 */
function mostlyNumbers(text: string): boolean {
  const length = text.length;
  let count = 0;
  let others = 0;
  let start = -1;
  for (let i = 0; i <= length; i++) {
    const separator = i === length || separatesTokens(text.charCodeAt(i));
    if (!separator) {
      if (start === -1) start = i;
      continue;
    }
    if (start === -1) continue;
    count++;
    if (!beginsNumber(text.charCodeAt(start)) || !NUMBER.test(text.slice(start, i))) {
      others++;
      // The r code units after i hold at most ⌈r / 2⌉ more tokens (each a character and
      // a separator before it): past a tenth of that many, no later number can save it.
      if (others > (count + ((length - i) >> 1)) * 0.1) return false;
    }
    start = -1;
  }
  return count >= 8 && others <= count * 0.1;
}

/** What an unfenced paragraph of the description holds, if it is data (exported for its tests). */
export function classifyParagraph(text: string): string | undefined {
  const trimmed = text.trim();
  if (/^[[{]/.test(trimmed)) {
    try {
      JSON.parse(trimmed);
      return "json";
    } catch {
      // not JSON: maybe something else
    }
  }
  // Three lines need two line breaks: most paragraphs are one line of prose.
  const lines =
    trimmed.indexOf("\n", trimmed.indexOf("\n") + 1) === -1
      ? []
      : trimmed.split(/\r?\n/).filter((line) => line.trim() !== "");
  if (lines.length >= 3) {
    if (lines.filter((line) => TIMESTAMP_START.test(line)).length >= lines.length * 0.8)
      return looksDelimited(lines) ? "csv" : "log";
    if (looksDelimited(lines)) return "csv";
    if (lines.every((line) => /^\s*\{.*\}\s*$/.test(line))) {
      try {
        for (const line of lines) JSON.parse(line);
        return "jsonl";
      } catch {
        // not JSON lines
      }
    }
  }
  // At most 10 % of the tokens may be other than numbers; prose fails within a few words.
  if (!/\d/.test(trimmed)) return undefined;
  return mostlyNumbers(trimmed) ? "numbers" : undefined;
}

/** Three or more lines with the same (non-zero) count of one delimiter. */
function looksDelimited(lines: string[]): boolean {
  for (const delimiter of [",", "\t", ";"]) {
    const counts = lines.map((line) => line.split(delimiter).length - 1);
    const first = counts[0] ?? 0;
    if (first >= 1 && counts.every((c) => c === first)) return true;
  }
  return false;
}

class Collector {
  readonly blocks: InputBlock[] = [];
  readonly notes: string[] = [];
  #chars = 0;
  readonly #limits: InputLimits;

  constructor(limits: InputLimits) {
    this.#limits = limits;
  }

  get full(): boolean {
    return (
      this.blocks.length >= this.#limits.maxBlocks || this.#chars >= this.#limits.maxTotalChars
    );
  }

  add(block: InputBlock): void {
    if (this.full) {
      this.notes.push(
        `Skipped ${block.source}: more than ${this.#limits.maxBlocks} inputs or ${this.#limits.maxTotalChars} characters in all.`,
      );
      return;
    }
    const room = Math.min(this.#limits.maxBlockChars, this.#limits.maxTotalChars - this.#chars);
    let text = block.text;
    if (text.length > room) {
      this.notes.push(`Cut ${block.source} to its first ${room} characters (of ${text.length}).`);
      text = text.slice(0, room).replace(/\n[^\n]*$/, "\n");
    }
    this.#chars += text.length;
    this.blocks.push({ ...block, text });
  }
}

/**
 * The data in a text (a job description): fenced blocks first, then data-like
 * paragraphs of the rest. Bounded by `limits`; `scanChars` cuts the text first.
 */
export function extractFromText(
  text: string,
  limits: InputLimits = DEFAULT_INPUT_LIMITS,
  scanChars = Number.POSITIVE_INFINITY,
): JobInputs {
  const collector = new Collector(limits);
  let scanned = text;
  if (text.length > scanChars) {
    scanned = text.slice(0, scanChars);
    collector.notes.push(`Read the first ${scanChars} characters of the description only.`);
  }
  let n = 0;
  let rest = "";
  let after = 0;
  for (const { start, end, tag, body } of findFences(scanned)) {
    n++;
    const language = normalizeLanguage(tag) || classifyParagraph(body) || "text";
    collector.add({
      source: `description, block ${n}${tag ? ` (${tag})` : ""}`,
      name: blockName(n, language),
      language,
      text: body,
    });
    rest += `${scanned.slice(after, start)}\n\n`;
    after = end;
  }
  rest += scanned.slice(after);
  // Paragraphs are parted by a blank line: a text without two line breaks is one.
  const paragraphs =
    rest.indexOf("\n", rest.indexOf("\n") + 1) === -1 ? [rest] : rest.split(/\n[ \t]*\n/);
  for (const paragraph of paragraphs) {
    const kind = classifyParagraph(paragraph);
    if (!kind) continue;
    n++;
    collector.add({
      source: `description, inline ${kind === "numbers" ? "number list" : kind} (block ${n})`,
      name: blockName(n, kind),
      language: kind,
      text: `${paragraph.trim()}\n`,
    });
  }
  return { blocks: collector.blocks, notes: collector.notes };
}

/** The blocks of a description without data; frozen, since every such job shares it. */
const NO_BLOCKS: InputBlock[] = Object.freeze([]) as unknown as InputBlock[];

/**
 * Whether extractFromText surely finds no block in a text, seen without extracting: no
 * fence (``` or ~~~), so the text is classified as paragraphs; at most one line break,
 * so it is one paragraph without the three lines CSV, logs or JSON lines need; no `[`
 * or `{`, so it is not JSON; then only a number list is data. (test/agents/tools/inputs.test.ts
 * checks it against extractFromText.)
 */
export function holdsNoData(text: string): boolean {
  // Most descriptions hold none of what the checks below look for: one scan says so.
  if (!DATA_HINT.test(text)) return true;
  const firstBreak = text.indexOf("\n");
  if (firstBreak !== -1 && text.indexOf("\n", firstBreak + 1) !== -1) return false;
  if (BRACKET.test(text) || text.includes("```") || text.includes("~~~")) return false;
  return !DIGIT.test(text) || !mostlyNumbers(text.trim());
}

const BRACKET = /[[{]/;
const DIGIT = /\d/;
/** Any character a check of holdsNoData looks for: a line break, a bracket, a fence's, a digit. */
const DATA_HINT = /[\n[{`~\d]/;

/** Each job's description blocks for bidding, extracted once and shared by every agent. */
const descriptionBlocks = new WeakMap<object, InputBlock[]>();

/**
 * The blocks of the first EVALUATION_SCAN_CHARS of a job's description (the bid
 * decision's look at its data), extracted once per job object: the agents deciding on
 * one listing share it, as they share the keyword scan.
 */
export function blocksForBidding(job: { description?: string | null }): InputBlock[] {
  const description = job.description ?? "";
  // Most descriptions are prose: answered without a WeakMap entry per job, which cost
  // more than this look; the agents of the other kinds then find it the last one seen.
  if (description === lastWithoutData) return NO_BLOCKS;
  const scanned =
    description.length > EVALUATION_SCAN_CHARS
      ? description.slice(0, EVALUATION_SCAN_CHARS)
      : description;
  if (holdsNoData(scanned)) {
    lastWithoutData = description;
    return NO_BLOCKS;
  }
  let blocks = descriptionBlocks.get(job);
  if (!blocks) {
    blocks = extractFromText(description, undefined, EVALUATION_SCAN_CHARS).blocks;
    descriptionBlocks.set(job, blocks);
  }
  return blocks;
}

/** The last description blocksForBidding found no data in. */
let lastWithoutData: string | undefined;

/** A file attached to the job, as the marketplace lists it. */
export interface AttachedFile {
  file_id: string;
  filename: string;
  category?: string | null;
  size?: number | null;
  mime_type?: string | null;
}

/** Reads attached files; `ExecutorContext.files` (the marketplace client) is one. */
export interface JobFileSource {
  listJobFiles(jobId: string, signal?: AbortSignal): Promise<AttachedFile[]>;
  downloadJobFile(jobId: string, fileId: string, signal?: AbortSignal): Promise<string>;
}

const BINARY = /\.(png|jpe?g|gif|webp|svg|pdf|docx?|xlsx?|parquet|zip|gz|tar|exe|bin)$/i;

/** Whether a file is worth downloading as text at all. */
function readableAsText(file: AttachedFile): boolean {
  if (BINARY.test(file.filename)) return false;
  if (file.category === "image") return false;
  const mime = file.mime_type ?? "";
  return !/^(image|audio|video)\//.test(mime) && !/pdf|zip|octet-stream|officedocument/.test(mime);
}

/**
 * Everything the job gives to work on: the description's data, then the attached
 * files (listed through `files`), each within `limits`. A file that cannot be listed
 * or read becomes a note, never an error.
 */
export async function gatherJobInputs(
  job: { job_id: string; description?: string | null },
  files: JobFileSource | undefined,
  signal: AbortSignal,
  limits: InputLimits = DEFAULT_INPUT_LIMITS,
): Promise<JobInputs> {
  const fromText = extractFromText(job.description ?? "", limits);
  const collector = new Collector(limits);
  for (const block of fromText.blocks) collector.add(block);
  collector.notes.push(...fromText.notes);
  if (!files) return { blocks: collector.blocks, notes: collector.notes };

  let listed: AttachedFile[];
  try {
    listed = await files.listJobFiles(job.job_id, signal);
  } catch (error) {
    if (signal.aborted) throw error;
    collector.notes.push(`Could not list the attached files (${(error as Error).message}).`);
    return { blocks: collector.blocks, notes: collector.notes };
  }
  let read = 0;
  for (const file of listed) {
    const label = `file ${file.filename}`;
    if (!readableAsText(file)) {
      collector.notes.push(
        `Skipped ${label}: not a text file (${file.mime_type ?? "unknown type"}).`,
      );
      continue;
    }
    if (read >= limits.maxFiles) {
      collector.notes.push(`Skipped ${label}: only the first ${limits.maxFiles} files are read.`);
      continue;
    }
    if ((file.size ?? 0) > limits.maxFileBytes) {
      collector.notes.push(
        `Skipped ${label}: ${file.size} bytes, more than the ${limits.maxFileBytes} read per file.`,
      );
      continue;
    }
    try {
      const text = await files.downloadJobFile(job.job_id, file.file_id, signal);
      read++;
      collector.add({
        source: label,
        name: file.filename,
        language: languageOfFile(file.filename),
        text,
      });
    } catch (error) {
      if (signal.aborted) throw error;
      collector.notes.push(`Could not read ${label} (${(error as Error).message}).`);
    }
  }
  return { blocks: collector.blocks, notes: collector.notes };
}

/** What a job without attachments lists; frozen, since every such job shares it. */
const NO_FILES: AttachedFile[] = Object.freeze([]) as unknown as AttachedFile[];

/** For bidding: the attachments the job lists (no download), as name and category. */
export function listedAttachments(attachments: readonly unknown[]): AttachedFile[] {
  // Most jobs attach nothing: no array (nor iterator) per agent's look at them.
  if (attachments.length === 0) return NO_FILES;
  const out: AttachedFile[] = [];
  for (const item of attachments) {
    if (!item || typeof item !== "object") continue;
    const { file_id, filename, category, mime_type } = item as Record<string, unknown>;
    if (typeof filename !== "string") continue;
    out.push({
      file_id: typeof file_id === "string" ? file_id : "",
      filename,
      category: typeof category === "string" ? category : null,
      // The job's records carry `size_bytes` (a number); `size` is the files listing's.
      size: attachmentBytes(item) ?? null,
      mime_type: typeof mime_type === "string" ? mime_type : null,
    });
  }
  return out;
}
