import type { QualityCheck } from "./types.ts";

/**
 * The built-in agents' own deterministic checks, read back from their deliverables
 * (the report builders in code-reviewer/, anomaly-hunter/ and schema-architect/ write
 * them): the tools' findings the LLM's part covers, the validations that passed, data
 * that was found at all. An agent type without checks of its own gets none here.
 */

/** Findings whose coverage is checked, at most (the most severe first). */
const MAX_CHECKED_FINDINGS = 10;
/** Table rows read per deliverable. */
const MAX_ROWS = 400;

const check = (name: string, score: number, weight: number, reason: string): QualityCheck => ({
  name,
  score: Math.max(0, Math.min(1, score)),
  weight,
  reason,
});

/** The text of a `## heading…` section, up to the next `## `; "" when absent. */
export function section(output: string, headingStart: string): string {
  const at = output.indexOf(`\n## ${headingStart}`);
  const from = at >= 0 ? at + 1 : output.startsWith(`## ${headingStart}`) ? 0 : -1;
  if (from < 0) return "";
  const bodyStart = output.indexOf("\n", from);
  if (bodyStart < 0) return "";
  const next = output.indexOf("\n## ", bodyStart);
  return output.slice(bodyStart + 1, next < 0 ? undefined : next);
}

/** The data rows of the Markdown tables in `text`, as trimmed cells (escaped pipes kept whole). */
export function tableRows(text: string): string[][] {
  const rows: string[][] = [];
  let header = true;
  for (const line of text.split("\n")) {
    if (!line.startsWith("|")) {
      header = true;
      continue;
    }
    if (header) {
      header = /^\|[ \t]*-{3}/.test(line) ? false : header;
      continue;
    }
    rows.push(
      line
        .slice(1, line.endsWith("|") ? -1 : undefined)
        .split(/(?<!\\)\|/)
        .map((c) => c.trim()),
    );
    if (rows.length >= MAX_ROWS) break;
  }
  return rows;
}

/**
 * The LLM's part of a deliverable: from its heading to the first of the report's own
 * sections after it (the LLM's text has headings of its own), with a repair round's
 * addendum (see repair.ts).
 */
function llmPart(output: string, heading: string, endings: readonly string[]): string {
  const at = output.indexOf(`## ${heading}`);
  let part = "";
  if (at >= 0) {
    let end = output.length;
    for (const ending of endings) {
      const e = output.indexOf(`\n## ${ending}`, at);
      if (e >= 0 && e < end) end = e;
    }
    part = output.slice(at, end);
  }
  const addendum = output.indexOf("\n## Addendum");
  return `${part}\n${addendum >= 0 ? output.slice(addendum) : ""}`.trim();
}

function coverage(
  name: string,
  items: readonly { label: string; mentions: readonly string[] }[],
  text: string,
  what: string,
): QualityCheck | undefined {
  if (items.length === 0) return undefined;
  const lower = text.toLowerCase();
  const missed = items.filter(
    (item) => !item.mentions.some((m) => m.length >= 2 && lower.includes(m.toLowerCase())),
  );
  const covered = items.length - missed.length;
  return check(
    name,
    covered / items.length,
    3,
    missed.length === 0
      ? `the LLM's part covers all ${covered} ${what}`
      : `the LLM's part covers ${covered} of ${items.length} ${what}; not ${missed
          .slice(0, 3)
          .map((m) => m.label)
          .join(", ")}`,
  );
}

function codeReviewerChecks(output: string): QualityCheck[] {
  if (output.includes("No code was found in this job"))
    return [check("input-found", 0.3, 3, "no code was found in the job to review")];
  // | # | file | line | rule | severity | finding | fix |
  const findings = tableRows(section(output, "Findings")).filter((r) => r.length >= 5);
  const high = findings.filter((r) => r[4] === "high");
  const checked = (high.length > 0 ? high : findings).slice(0, MAX_CHECKED_FINDINGS);
  const review = llmPart(output, "Review (language model", ["Tools and settings", "Notes"]);
  if (!review) return [];
  const items = checked.map((r) => {
    const [, file = "", line = "", rule = ""] = r;
    return {
      label: `${file}:${line} (${rule})`,
      mentions: [`${file}:${line}`, `line ${line}`, `lines ${line}`, `L${line}`, rule],
    };
  });
  const covered = coverage("findings-covered", items, review, "tool findings checked");
  return covered ? [covered] : [];
}

function anomalyHunterChecks(output: string): QualityCheck[] {
  if (output.includes("No numeric series could be read"))
    return [check("input-found", 0.3, 3, "no numeric series could be read from the job")];
  // | # | series | time / index | value | expected range | score | severity | kind | method |
  const rows = tableRows(section(output, "Findings")).filter((r) => r.length >= 7);
  const high = rows.filter((r) => r[6] === "high");
  const checked = (high.length > 0 ? high : rows).slice(0, MAX_CHECKED_FINDINGS);
  const causes = llmPart(output, "Likely causes and recommendations", ["Notes"]);
  if (!causes) return [];
  const items = checked.map((r) => {
    const [, series = "", at = "", value = ""] = r;
    return {
      label: `${series} at ${at}`,
      mentions: [at.length >= 3 ? at : `index ${at}`, value.length >= 3 ? value : ""],
    };
  });
  const covered = coverage("findings-covered", items, causes, "flagged points checked");
  return covered ? [covered] : [];
}

function schemaArchitectChecks(output: string): QualityCheck[] {
  if (output.includes("No sample records or specifications were found in this job"))
    return [check("input-found", 0.3, 3, "no sample records or specifications in the job")];
  const passed = /\n(\d+) of (\d+) validations? passed\./.exec(output);
  if (!passed) return [];
  const n = Number(passed[1]);
  const total = Number(passed[2]);
  if (total === 0) return [];
  return [check("validations", n / total, 3, `${n} of ${total} validations passed`)];
}

const BY_KIND = new Map<string, (output: string) => QualityCheck[]>([
  ["code_reviewer", codeReviewerChecks],
  ["anomaly_hunter", anomalyHunterChecks],
  ["schema_architect", schemaArchitectChecks],
]);

/** The agent type's own checks of its deliverable (none for a type without them). */
export function kindChecks(agentType: string, output: string): QualityCheck[] {
  return BY_KIND.get(agentType)?.(output) ?? [];
}
