/** Shapes shared by the agents' deterministic tools (they cross the worker-thread boundary). */

/** One piece of data found in a job: a fenced block, inline data, or an attached file. */
export interface InputBlock {
  /** Where it came from, for the reader: "description, block 2", "file sensor.csv". */
  source: string;
  /** A name to cite findings by: the file name, or `block-2.ts` for a fenced block. */
  name: string;
  /** Lower-case language or format: the fence tag, the file's extension, or what it looked like. */
  language: string;
  text: string;
}

export interface JobInputs {
  blocks: InputBlock[];
  /** What was skipped or cut, and why; printed in the deliverable. */
  notes: string[];
}

export type Severity = "high" | "medium" | "low";
