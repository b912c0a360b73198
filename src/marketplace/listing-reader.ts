import { getManyValues, isMany, type Many, none } from "stream-chain/defs.js";
import { jsonParser, type parser } from "stream-json/core/parser.js";
import { BazaarRunnerError } from "../errors.ts";
import { JOB_TEXT_CHARS } from "./limits.ts";

type Token = parser.Token;

/** How much of one listed job is kept. */
export interface ListingLimits {
  /** Longest `description` kept; a longer one makes the job too large. */
  descriptionChars: number;
  /** Longest other string (title, a data context's field, …) kept. */
  textChars: number;
  /** Most characters of one job kept in all (strings and keys, plus a little per value). */
  jobChars: number;
}

export const DEFAULT_LISTING_LIMITS: ListingLimits = {
  descriptionChars: 256 * 1024,
  textChars: JOB_TEXT_CHARS,
  jobChars: 512 * 1024,
};

/** Stands in a listing for a job past a limit, whose content was let go of as it arrived. */
export class TooLargeJob {
  readonly jobId: string | undefined;
  readonly problem: string;
  constructor(jobId: string | undefined, problem: string) {
    this.jobId = jobId;
    this.problem = problem;
  }
}

/** A listing as read: `{jobs, count}` as sent, each job past a limit a TooLargeJob in its place. */
export interface ReadListing {
  jobs: unknown;
  count?: unknown;
}

/** What a value in a listing costs beyond its characters (an object slot, a pointer). */
const VALUE_COST = 16;
/** Keys, numbers and job ids are short: longer ones are not kept. */
const KEY_CHARS = 256;
const NUMBER_CHARS = 64;
/** Deepest nesting inside one job, and in the whole listing. */
const JOB_DEPTH = 32;
const LISTING_DEPTH = 64;

/** What a frame is: the listing, its `jobs`, one job or a part of one, or something not kept. */
type Role = "listing" | "jobs" | "job" | "inner" | "skip";

/** An object or array being read; `value` is undefined when its content is not kept. */
interface Frame {
  role: Role;
  value: Record<string, unknown> | unknown[] | undefined;
  /** The object's key whose value comes next. */
  key: string | undefined;
  /** The next index, for an array. */
  index: number;
  /** Where it is in its job (`data_context.query`), for messages. */
  path: string;
}

/** The job being read. */
interface JobState {
  /** The stack's length while the job's own frame is on top. */
  depth: number;
  used: number;
  jobId: string | undefined;
  /** Set once the job is past a limit: nothing more of it is kept. */
  problem: string | undefined;
}

/** A string, key or number arriving in chunks: counted always, kept while within `cap`. */
interface Scalar {
  parts: string[];
  length: number;
  cap: number;
  keep: boolean;
  path: string;
}

/**
 * Reads a job listing (`{"jobs": [...], "count": n}`) from its bytes as they arrive,
 * keeping each job only up to `limits`: a job past one is let go of as it streams by
 * and a TooLargeJob takes its place, so memory stays bounded by the limits times the jobs,
 * however large the listing or any one job is. Strings come from the tokenizer in
 * chunks and are never held beyond their cap.
 */
export class ListingReader {
  readonly #limits: ListingLimits;
  readonly #tokenize = jsonParser({ packValues: false, streamValues: true });
  readonly #decoder = new TextDecoder("utf-8");
  readonly #stack: Frame[] = [];
  #isListing = false;
  #jobs: unknown = undefined;
  #count: unknown = undefined;
  #job: JobState | undefined;
  #scalar: Scalar | undefined;

  constructor(limits: Partial<ListingLimits> = {}) {
    this.#limits = { ...DEFAULT_LISTING_LIMITS, ...limits };
  }

  /** Feeds the next bytes. Throws when they are not JSON. */
  write(chunk: Uint8Array): void {
    this.#consume(this.#tokenize(this.#decoder.decode(chunk, { stream: true })));
  }

  /** Ends the input: the listing as read; throws when the JSON is incomplete. */
  end(): ReadListing {
    const rest = this.#decoder.decode();
    if (rest) this.#consume(this.#tokenize(rest));
    // The tokenizer takes stream-chain's `none` as the end of its input.
    this.#consume((this.#tokenize as unknown as (input: typeof none) => unknown)(none));
    if (!this.#isListing) return { jobs: undefined };
    return this.#count === undefined
      ? { jobs: this.#jobs }
      : { jobs: this.#jobs, count: this.#count };
  }

  #consume(output: unknown): void {
    if (!isMany(output)) return;
    for (const token of getManyValues(output as Many<Token>)) this.#token(token);
  }

  #token(token: Token): void {
    switch (token.name) {
      case "startObject":
      case "startArray":
        this.#open(token.name === "startArray");
        return;
      case "endObject":
      case "endArray":
        this.#close();
        return;
      case "startKey":
        // Keys are short and always kept: a dropped job is still named by its `job_id`.
        this.#scalar = newScalar(KEY_CHARS, true, `${this.#top()?.path || "job"} key`);
        return;
      case "endKey": {
        const key = this.#finishScalar();
        const frame = this.#top();
        if (frame) frame.key = key ?? "";
        if (key !== undefined && this.#inJob()) this.#spend(key.length + VALUE_COST);
        return;
      }
      case "startString":
        this.#scalar = this.#startString();
        return;
      case "stringChunk":
      case "numberChunk":
        this.#chunk(token.value);
        return;
      case "endString":
        this.#place(this.#finishScalar());
        return;
      case "startNumber":
        this.#scalar = newScalar(NUMBER_CHARS, true, this.#childPath());
        return;
      case "endNumber": {
        const text = this.#finishScalar();
        this.#place(text === undefined ? undefined : Number(text));
        return;
      }
      case "nullValue":
      case "trueValue":
      case "falseValue":
        this.#place(token.value);
        return;
      default:
        return;
    }
  }

  #top(): Frame | undefined {
    return this.#stack[this.#stack.length - 1];
  }

  #inJob(): boolean {
    const role = this.#top()?.role;
    return role === "job" || role === "inner";
  }

  /** Whether the value starting now is kept. */
  #keeping(): boolean {
    switch (this.#top()?.role) {
      case "listing":
      case "jobs":
        return true;
      case "job":
      case "inner":
        return this.#job?.problem === undefined;
      default:
        return false;
    }
  }

  /** The path of the value starting now, within its job (`attachments.0.filename`). */
  #childPath(): string {
    const frame = this.#top();
    if (!frame || !this.#inJob()) return "job";
    const step = frame.key ?? String(frame.index);
    return frame.path ? `${frame.path}.${step}` : step;
  }

  #startString(): Scalar {
    const frame = this.#top();
    const atJobRoot = frame?.role === "job" && !Array.isArray(frame.value);
    // A job's id is kept even once the job is dropped, to name it.
    if (atJobRoot && frame.key === "job_id") return newScalar(KEY_CHARS, true, "job_id");
    const cap =
      atJobRoot && frame.key === "description"
        ? this.#limits.descriptionChars
        : this.#limits.textChars;
    return newScalar(cap, this.#keeping(), this.#childPath());
  }

  #chunk(text: string): void {
    const scalar = this.#scalar;
    if (!scalar) return;
    scalar.length += text.length;
    if (!scalar.keep) return;
    if (scalar.length <= scalar.cap) {
      scalar.parts.push(text);
      return;
    }
    scalar.keep = false;
    scalar.parts = [];
  }

  /** The finished scalar's text; undefined when it was not kept. Past its cap, the job is too large. */
  #finishScalar(): string | undefined {
    const scalar = this.#scalar;
    this.#scalar = undefined;
    if (!scalar) return undefined;
    if (scalar.length > scalar.cap) {
      this.#oversize(`${scalar.path}: ${scalar.length} characters, more than ${scalar.cap}`);
      return undefined;
    }
    return scalar.keep ? scalar.parts.join("") : undefined;
  }

  /** Puts a finished scalar where it belongs. */
  #place(value: unknown): void {
    const frame = this.#top();
    switch (frame?.role) {
      case "listing":
        if (frame.key === "jobs") this.#jobs = value;
        else if (frame.key === "count") this.#count = value;
        return;
      case "jobs":
        // A job that is not an object: kept for the client to refuse.
        if (value !== undefined) (this.#jobs as unknown[]).push(value);
        return;
      case "job":
      case "inner": {
        const job = this.#job;
        if (!job) return;
        if (frame.role === "job" && frame.key === "job_id" && typeof value === "string") {
          job.jobId = value;
        }
        if (job.problem !== undefined || value === undefined) return;
        this.#spend((typeof value === "string" ? value.length : 0) + VALUE_COST);
        if (job.problem === undefined) store(frame, value);
        return;
      }
      default:
        return;
    }
  }

  #open(isArray: boolean): void {
    if (this.#stack.length >= LISTING_DEPTH) {
      throw new BazaarRunnerError(
        "BR_ERR_BODY_UNREADABLE",
        `nested deeper than ${LISTING_DEPTH} levels`,
      );
    }
    const parent = this.#top();
    const frame: Frame = { role: "skip", value: undefined, key: undefined, index: 0, path: "" };
    switch (parent?.role) {
      case undefined:
        this.#isListing = !isArray;
        if (this.#isListing) frame.role = "listing";
        break;
      case "listing":
        if (parent.key === "jobs") {
          this.#jobs = isArray ? [] : {};
          if (isArray) frame.role = "jobs";
        }
        break;
      case "jobs":
        // A job starts: kept whole, unless it passes a limit.
        frame.role = "job";
        frame.value = isArray ? [] : {};
        (this.#jobs as unknown[]).push(frame.value);
        this.#job = {
          depth: this.#stack.length + 1,
          used: VALUE_COST,
          jobId: undefined,
          problem: undefined,
        };
        break;
      case "job":
      case "inner": {
        frame.role = "inner";
        frame.path = this.#childPath();
        const job = this.#job;
        if (!job || job.problem !== undefined) break;
        if (this.#stack.length + 1 - job.depth > JOB_DEPTH) {
          this.#oversize(`${frame.path}: nested deeper than ${JOB_DEPTH} levels`);
          break;
        }
        frame.value = isArray ? [] : {};
        this.#spend(VALUE_COST);
        if (job.problem === undefined) store(parent, frame.value);
        else frame.value = undefined;
        break;
      }
      default:
        break;
    }
    this.#stack.push(frame);
  }

  #close(): void {
    const frame = this.#stack.pop();
    if (frame?.role !== "job") return;
    const job = this.#job;
    this.#job = undefined;
    if (job?.problem === undefined) return;
    const jobs = this.#jobs as unknown[];
    jobs[jobs.length - 1] = new TooLargeJob(job.jobId, job.problem);
  }

  /** Counts characters kept of the current job; past its budget the job is too large. */
  #spend(chars: number): void {
    const job = this.#job;
    if (!job || job.problem !== undefined) return;
    job.used += chars;
    if (job.used > this.#limits.jobChars) {
      this.#oversize(`job: more than ${this.#limits.jobChars} characters in all`);
    }
  }

  /**
   * Marks the current job too large and lets go of what was kept of it; the rest of
   * it streams by unkept. A string element of `jobs` past its cap is reported the
   * same way; a listing's other fields past one are only left unkept.
   */
  #oversize(problem: string): void {
    const job = this.#job;
    if (!job) {
      if (this.#top()?.role === "jobs")
        (this.#jobs as unknown[]).push(new TooLargeJob(undefined, problem));
      return;
    }
    if (job.problem !== undefined) return;
    job.problem = problem;
    for (let i = job.depth - 1; i < this.#stack.length; i++) {
      const frame = this.#stack[i];
      if (frame) frame.value = undefined;
    }
    const jobs = this.#jobs as unknown[];
    jobs[jobs.length - 1] = undefined;
  }
}

function newScalar(cap: number, keep: boolean, path: string): Scalar {
  return { parts: [], length: 0, cap, keep, path };
}

/** Adds a value to an object (as an own property, like JSON.parse for "__proto__") or an array. */
function store(frame: Frame, value: unknown): void {
  if (Array.isArray(frame.value)) {
    frame.value.push(value);
    frame.index += 1;
  } else if (frame.value) {
    Object.defineProperty(frame.value, frame.key ?? "", {
      value,
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
}
