/** Markdown building blocks for deliverables: tables and fenced blocks that stay well-formed. */

/** A table cell: one line, pipes escaped. */
export function cell(value: unknown): string {
  const text = value === null || value === undefined ? "" : String(value);
  return text.replace(/\r?\n/g, " ").replace(/\|/g, "\\|").trim() || " ";
}

export function table(headers: readonly string[], rows: readonly (readonly unknown[])[]): string {
  const line = (cells: readonly unknown[]) => `| ${cells.map(cell).join(" | ")} |`;
  return [line(headers), `| ${headers.map(() => "---").join(" | ")} |`, ...rows.map(line)].join(
    "\n",
  );
}

/** A fenced block whose fence is longer than any backtick run inside it. */
export function fence(language: string, text: string): string {
  const longest = Math.max(2, ...(text.match(/`+/g) ?? []).map((run) => run.length));
  const ticks = "`".repeat(longest + 1);
  return `${ticks}${language}\n${text.replace(/\n$/, "")}\n${ticks}`;
}

/** A number for a report: integers as they are, others to `digits` significant digits. */
export function num(value: number, digits = 4): string {
  if (!Number.isFinite(value)) return String(value);
  if (Number.isInteger(value)) return String(value);
  return String(Number(value.toPrecision(digits)));
}

export const NO_LLM_LINE =
  "_Produced without a language model: this deliverable comes from deterministic tools alone (no LLM is configured for this runner)._";

export function notesSection(notes: readonly string[]): string {
  if (notes.length === 0) return "";
  return ["## Notes", "", ...notes.map((note) => `- ${note}`)].join("\n");
}
