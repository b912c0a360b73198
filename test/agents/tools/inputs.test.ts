import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  blocksForBidding,
  extractFromText,
  gatherJobInputs,
  holdsNoData,
  listedAttachments,
} from "../../../src/agents/tools/inputs.ts";
import type { MarketplaceClient } from "../../../src/marketplace/client.ts";
import { type ClientMarket, startClientMarket } from "../../support/client-market.ts";

describe("input extraction", () => {
  it("finds fenced blocks with their language and inline CSV, JSON, numbers and logs", () => {
    const text = [
      "Please look at this:",
      "```TypeScript\nconst a = 1;\n```",
      "~~~\nplain\n~~~",
      'Inline JSON: \n\n[{"a": 1}, {"a": 2}]',
      "a,b\n1,2\n3,4",
      "3 4 5 6 7 8 9 10 11",
      "2026-01-01 10:00:00 INFO x=1\n2026-01-01 10:01:00 INFO x=2\n2026-01-01 10:02:00 WARN x=9",
      "Just prose, with, commas.",
    ].join("\n\n");
    const { blocks, notes } = extractFromText(text);
    expect(blocks.map((b) => [b.name, b.language])).toEqual([
      ["block-1.ts", "typescript"],
      ["block-2.txt", "text"],
      ["block-3.json", "json"],
      ["block-4.csv", "csv"],
      ["block-5.txt", "numbers"],
      ["block-6.log", "log"],
    ]);
    expect(blocks[0]!.text).toBe("const a = 1;\n");
    expect(notes).toEqual([]);
  });

  it("bounds the number and size of blocks and says what it skipped", () => {
    const many = Array.from({ length: 5 }, (_, i) => `\`\`\`js\nconst x${i} = ${i};\n\`\`\``).join(
      "\n\n",
    );
    const limits = {
      maxBlocks: 3,
      maxBlockChars: 10,
      maxTotalChars: 1000,
      maxFiles: 1,
      maxFileBytes: 100,
    };
    const { blocks, notes } = extractFromText(many, limits);
    expect(blocks).toHaveLength(3);
    expect(notes.filter((n) => n.startsWith("Skipped"))).toHaveLength(2);
    expect(notes.some((n) => n.startsWith("Cut description, block 1"))).toBe(true);
    const scanned = extractFromText(`${"x".repeat(100)}\n\n1,2\n3,4\n5,6`, undefined, 50);
    expect(scanned.blocks).toEqual([]);
    expect(scanned.notes).toEqual(["Read the first 50 characters of the description only."]);
  });
});

describe("attached files, through the marketplace client", () => {
  let env: ClientMarket;
  let client: MarketplaceClient;
  beforeAll(async () => {
    env = await startClientMarket("bazaar-inputs-test-");
    client = env.client;
  });
  afterAll(() => env.close());

  it("reads text files within the limits and notes the rest", async () => {
    const { job_id } = await client.postJob({
      title: "Review the attached code",
      description: "```py\nprint(1)\n```",
      budget_usd: 1,
      required_capabilities: [],
      poster_id: "p",
      poster_wallet: `0x${"ab".repeat(20)}`,
    });
    const upload = (filename: string, text: string | Uint8Array<ArrayBuffer>) =>
      client.uploadJobFile(job_id, {
        filename,
        content: typeof text === "string" ? new TextEncoder().encode(text) : text,
        uploadedBy: "p",
      });
    await upload("app.ts", "export const x = 1;\n");
    await upload("logo.png", new Uint8Array([137, 80, 78, 71]));
    await upload("big.csv", `a,b\n${"1,2\n".repeat(100)}`);
    await upload("later.sql", "SELECT 1;");
    const limits = {
      maxBlocks: 10,
      maxBlockChars: 10_000,
      maxTotalChars: 100_000,
      maxFiles: 2,
      maxFileBytes: 200,
    };
    const inputs = await gatherJobInputs(
      await client.getJob(job_id),
      client,
      new AbortController().signal,
      limits,
    );
    expect(inputs.blocks.map((b) => [b.name, b.language, b.source])).toEqual([
      ["block-1.py", "python", "description, block 1 (py)"],
      ["app.ts", "typescript", "file app.ts"],
      ["later.sql", "sql", "file later.sql"],
    ]);
    expect(inputs.notes).toEqual([
      "Skipped file logo.png: not a text file (image/png).",
      "Skipped file big.csv: 404 bytes, more than the 200 read per file.",
    ]);
    // Without a file source (a bare test context) only the description is read.
    const bare = await gatherJobInputs(
      { job_id, description: "" },
      undefined,
      new AbortController().signal,
    );
    expect(bare).toEqual({ blocks: [], notes: [] });
  });
});

describe("listed attachments, for bidding", () => {
  it("takes each file's size from the record's size_bytes, else a numeric size", () => {
    const listed = listedAttachments([
      { file_id: "file_1", filename: "a.csv", size_bytes: 812 },
      { file_id: "file_2", filename: "b.csv", size: 40 },
      { file_id: "file_3", filename: "c.csv", size: "3.4 KB" },
    ]);
    expect(listed.map((f) => f.size)).toEqual([812, 40, null]);
  });
});

describe("holdsNoData: the bid decision's quick look (issue 26)", () => {
  /** Pieces of texts that are data and of texts that are not, mixed at random. */
  const piece = fc.constantFrom(
    ...["word", "Data", " ", "  ", ", ", ";", "\t", ".", "-", "é", "\u00a0", "\u2028", "\r"],
    ...["\n", "\n\n", "1", "2.5", "2026-01-01 10:00", "[", "]", "{", "}", '"a":', "```", "~~~"],
    ...["`", "``", "~", "a,b", "x;y", "|"],
  );
  /** Number lists, now and then with a word among them. */
  const numbers = fc
    .array(
      fc.tuple(
        fc.constantFrom(..."1 2.5 -3 1e3 7 42 0.5 8 9 10 11 12 13 14 15 x".split(" ")),
        fc.constantFrom(" ", ", ", ";", "\t", "\n"),
      ),
      { minLength: 6, maxLength: 30 },
    )
    .map((tokens) => tokens.flat());
  /** Lines with delimiters, as CSV has them, without a digit. */
  const delimited = fc
    .array(fc.constantFrom("a,b", "c,d", "e;f", "g\th", "word"), { minLength: 2, maxLength: 6 })
    .map((lines) => lines.flatMap((line) => [line, "\n"]));
  const text = fc
    .oneof(fc.array(piece, { maxLength: 40 }), numbers, delimited)
    .map((pieces) => pieces.join(""));

  it("says a text holds no data only when extractFromText finds no block in it", () => {
    let plain = 0;
    fc.assert(
      fc.property(text, (t) => {
        if (!holdsNoData(t)) return true;
        plain++;
        return extractFromText(t).blocks.length === 0;
      }),
      { numRuns: 20_000 },
    );
    expect(plain).toBeGreaterThan(500); // not only texts it declines
  });

  it("lets blocksForBidding answer prose with no block and data with its blocks", () => {
    expect(holdsNoData("Design a schema for orders, customers and invoices.\nThanks!")).toBe(true);
    expect(blocksForBidding({ description: "Design a schema for orders." })).toEqual([]);
    const csv = { description: "Find the outlier:\n\nday,value\n1,10\n2,11\n3,95" };
    expect(holdsNoData(csv.description)).toBe(false);
    expect(blocksForBidding(csv).map((b) => b.language)).toEqual(["csv"]);
    // Digits in prose are not data; a number list on one line is.
    expect(holdsNoData("Fix the n+1 queries on 3 pages of the 2024 report.")).toBe(true);
    expect(holdsNoData("3 4 5 6 7 8 9 10 11")).toBe(false);
  });
});
