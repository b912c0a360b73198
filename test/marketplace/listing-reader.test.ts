import { describe, expect, it } from "vitest";
import { ListingReader, TooLargeJob } from "../../src/marketplace/listing-reader.ts";

/** Reads `text` fed in chunks of `size` bytes (splitting multi-byte characters too). */
function read(text: string, size = 7, limits?: ConstructorParameters<typeof ListingReader>[0]) {
  const reader = new ListingReader(limits);
  const bytes = Buffer.from(text);
  for (let at = 0; at < bytes.length; at += size) reader.write(bytes.subarray(at, at + size));
  return reader.end();
}

const JOB = {
  job_id: "job_0000000a",
  title: "Schéma ✓ review",
  description: 'a\nb "quoted" \\ \u0001',
  required_capabilities: ["sql", "code"],
  data_context: { collection: "c", query: { a: [1, -2.5e3, true, false, null, { b: [] }] } },
  budget_usd: 0.25,
  attachments: [],
};

describe("ListingReader", () => {
  it("reads an ordinary listing as JSON.parse does, whatever the chunking", () => {
    const body = JSON.stringify({ jobs: [JOB, { ...JOB, job_id: "job_b" }], count: 2, x: "y" });
    for (const size of [1, 3, 7, 4096]) {
      expect(read(body, size)).toEqual({ jobs: JSON.parse(body).jobs, count: 2 });
    }
  });

  it("puts a TooLargeJob in place of a job past a cap, named even when its id comes last", () => {
    const big = { title: "big", description: "x".repeat(300), job_id: "job_big" };
    const body = JSON.stringify({ jobs: [JOB, big, { ...JOB, job_id: "job_c" }] });
    const { jobs } = read(body, 16, { descriptionChars: 200 });
    expect(jobs).toEqual([
      JOB,
      new TooLargeJob("job_big", "description: 300 characters, more than 200"),
      { ...JOB, job_id: "job_c" },
    ]);
  });

  it("caps every other string, named by its path in the job", () => {
    const body = JSON.stringify({
      jobs: [{ job_id: "j", data_context: { query: { notes: ["ok", "y".repeat(50)] } } }],
    });
    const { jobs } = read(body, 5, { textChars: 40 });
    expect(jobs).toEqual([
      new TooLargeJob("j", "data_context.query.notes.1: 50 characters, more than 40"),
    ]);
  });

  it("caps a job's total, deep nesting, long keys and long numbers", () => {
    const many = { job_id: "many", parts: Array.from({ length: 50 }, () => "z".repeat(30)) };
    let deep: unknown = 1;
    for (let i = 0; i < 40; i++) deep = [deep];
    const body = JSON.stringify({
      jobs: [
        many,
        { job_id: "deep", deep },
        { job_id: "key", ["k".repeat(300)]: 1 },
        { job_id: "num", n: 1 },
      ],
    }).replace('"n":1', `"n":${"9".repeat(100)}`);
    const { jobs } = read(body, 64, { jobChars: 1000 });
    expect((jobs as TooLargeJob[]).map((job) => [job.jobId, job.problem])).toEqual([
      ["many", "job: more than 1000 characters in all"],
      ["deep", expect.stringMatching(/^deep(\.0)+: nested deeper than 32 levels$/)],
      ["key", "job key: 300 characters, more than 256"],
      ["num", "n: 100 characters, more than 64"],
    ]);
  });

  it("names a job dropped for a multi-megabyte field, and passes over a listing's other fields", () => {
    // A 2 MB description and a 2 MB field beside the jobs: read by, not kept.
    const body = JSON.stringify({
      notice: "n".repeat(2_000_000),
      jobs: [{ job_id: "big", description: "d".repeat(2_000_000), title: "t" }, "s".repeat(99)],
    });
    const { jobs } = read(body, 65_536, { textChars: 50 });
    expect(jobs).toEqual([
      new TooLargeJob("big", "description: 2000000 characters, more than 262144"),
      new TooLargeJob(undefined, "job: 99 characters, more than 50"),
    ]);
  });

  it("leaves the shape to the schema: no jobs array, or not an object at all", () => {
    expect(read(JSON.stringify({ jobs: null, count: 0 }))).toEqual({ jobs: null, count: 0 });
    expect(read(JSON.stringify([JOB]))).toEqual({ jobs: undefined });
  });

  it("throws on a body that is not JSON, or ends early", () => {
    expect(() => read('{"jobs": [}')).toThrow();
    expect(() => read('{"jobs": [{"job_id": "a"')).toThrow();
  });
});
