import { describe, expect, it } from "vitest";
import { checkCitedLines } from "../../../src/agents/tools/code-findings.ts";
import { reviewCode } from "../../../src/agents/tools/code-review.ts";
import { extractFromText } from "../../../src/agents/tools/inputs.ts";
import { CODE_FIXTURES } from "./fixtures.ts";

describe("code review tools on customers' code", () => {
  for (const fixture of CODE_FIXTURES) {
    const what = fixture.planted.length
      ? fixture.planted.map((p) => `${p.rule.source} at line ${p.line}`).join(", ")
      : "no finding";
    it(`${fixture.title}: ${what}`, async () => {
      const { blocks } = extractFromText(fixture.description);
      const result = await reviewCode(blocks);
      expect(result.files.length).toBeGreaterThan(0);
      for (const planted of fixture.planted) {
        expect(
          result.findings.some(
            (f) => f.file === planted.file && f.line === planted.line && planted.rule.test(f.rule),
          ),
          `${planted.rule} at ${planted.file}:${planted.line} in ${JSON.stringify(result.findings.map((f) => [f.file, f.line, f.rule]))}`,
        ).toBe(true);
      }
      // No finding anywhere but the planted lines.
      expect(
        result.findings.filter((f) => !fixture.planted.some((p) => p.line === f.line)),
      ).toEqual([]);
      for (const finding of result.findings) {
        expect(finding.fix.length).toBeGreaterThan(10);
        expect(["high", "medium", "low"]).toContain(finding.severity);
      }
      // Secrets are reported by kind and first characters, never in full.
      for (const secret of fixture.secrets ?? []) {
        expect(JSON.stringify(result.findings)).not.toContain(secret);
        expect(result.secrets.some((s) => s.includes(secret))).toBe(true);
      }
    });
  }

  it("inline eslint-disable comments do not switch rules off", async () => {
    const { blocks } = extractFromText(
      "```js\n/* eslint-disable */\n// eslint-disable-next-line no-eval\neval(input);\n```",
    );
    const { findings } = await reviewCode(blocks);
    expect(findings.map((f) => [f.line, f.rule])).toEqual([[3, "no-eval"]]);
  });

  it("reports code that does not parse, and still scans it as text", async () => {
    const { blocks } = extractFromText(
      '```ts\nconst q = "SELECT * FROM t WHERE a = " + a;\nfunction (\n```',
    );
    const { findings } = await reviewCode(blocks);
    expect(findings.map((f) => f.rule).sort()).toEqual([
      "parse-error",
      "sql-injection/string-built-query",
    ]);
  });

  it("strikes through lines an LLM cites that do not exist", () => {
    const files = [
      { name: "app.js", language: "javascript", lines: 12, linted: true },
      { name: "db.py", language: "python", lines: 4, linted: false },
    ];
    const text =
      "The eval on line 7 is critical. See app.js:12 and db.py:9; lines 3-5 are fine, but line 40 does not exist, nor L99.";
    const checked = checkCitedLines(text, files);
    expect(checked.invalid).toEqual(["db.py:9", "line 40", "L99"]);
    expect(checked.text).toContain("line 7 is critical");
    expect(checked.text).toContain("app.js:12");
    expect(checked.text).toContain("~~db.py:9~~ [no such line in the reviewed code]");
    expect(checked.text).toContain("~~line 40~~");
  });
});
