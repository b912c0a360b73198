import type { Job } from "../../marketplace/schemas.ts";
import { fence, notesSection, table } from "../tools/markdown.ts";
import type { ArtefactCheck, InferredSchema } from "../tools/schema-samples.ts";

/** SchemaArchitect's deliverable: the design, which validations passed, and the schema inferred from the samples. */

export interface ValidationRow {
  check: ArtefactCheck;
  /** "the request", "the design", "the design (after one repair round)". */
  origin: string;
}

export function validationTable(
  rows: readonly ValidationRow[],
  inferred: readonly InferredSchema[],
): string {
  const lines = [
    ...rows.map(({ check, origin }) => [
      check.name,
      origin,
      check.kind,
      check.validator,
      check.ok ? "passed" : "FAILED",
      check.errors.join("; ") || "-",
    ]),
    ...inferred.flatMap((s) => [
      [
        `${s.name} → JSON Schema`,
        "inferred from the samples",
        "json-schema",
        "ajv (draft 2020-12)",
        s.samplesValid ? "passed" : "FAILED",
        s.samplesValid ? `all ${s.sampleCount} samples validate` : s.errors.join("; "),
      ],
      ...(s.ddl
        ? [
            [
              `${s.name} → SQL table`,
              "generated from the schema",
              "sql",
              "node-sql-parser (PostgreSQL)",
              s.ddlValid ? "passed" : "FAILED",
              "-",
            ],
          ]
        : []),
    ]),
  ];
  if (lines.length === 0)
    return "Nothing to validate: no specification or sample records were found.";
  return table(["artefact", "from", "kind", "validator", "result", "details"], lines);
}

export function inferredSection(inferred: readonly InferredSchema[]): string {
  if (inferred.length === 0) return "";
  const parts = ["## Inferred JSON Schema", ""];
  for (const s of inferred) {
    parts.push(
      `### ${s.name} (${s.sampleCount} sample record${s.sampleCount === 1 ? "" : "s"}, ${s.source})`,
      "",
      `Draft 2020-12. A field is required when every sample has it; a format is set when every value matches it. ${s.samplesValid ? "Every sample validates against it (ajv)." : "Some samples do not validate: see the validation table."}`,
      "",
      fence("json", JSON.stringify(s.schema, null, 2)),
    );
    if (s.ddl) {
      parts.push(
        "",
        "A PostgreSQL table for the same records (nested values as JSONB):",
        "",
        fence("sql", s.ddl),
      );
    }
    parts.push("");
  }
  return parts.join("\n").trimEnd();
}

export function schemaFacts(
  inferred: readonly InferredSchema[],
  requestChecks: readonly ArtefactCheck[],
): string {
  const parts: string[] = [];
  for (const s of inferred) {
    parts.push(
      `JSON Schema inferred from ${s.sampleCount} sample records of ${s.name} (all samples validate: ${s.samplesValid}):`,
      fence("json", JSON.stringify(s.schema, null, 2)),
    );
  }
  for (const c of requestChecks) {
    parts.push(
      `The customer's ${c.kind} ${c.name}: ${c.ok ? "valid" : `invalid (${c.errors.join("; ")})`} per ${c.validator}.`,
    );
  }
  return parts.join("\n") || "No sample records or specifications were found in the job.";
}

export function schemaReport(
  job: Job,
  design: string | null,
  rows: readonly ValidationRow[],
  inferred: readonly InferredSchema[],
  notes: readonly string[],
): string {
  const parts: string[] = [];
  if (design) {
    parts.push(design, "", "---", "");
  } else {
    parts.push(`# Schema report: ${job.title}`, "");
    if (inferred.length === 0 && rows.length === 0) {
      parts.push(
        "No sample records or specifications were found in this job, so nothing could be inferred or validated. Paste sample records (a JSON array, JSON lines or a CSV with a header) or a specification (OpenAPI, GraphQL SDL, SQL DDL) in fenced blocks, or attach them as files.",
        "",
      );
    }
  }
  parts.push("## Validation", "", validationTable(rows, inferred));
  const results = [
    ...rows.map((r) => r.check.ok),
    ...inferred.flatMap((s) => (s.ddl ? [s.samplesValid, s.ddlValid === true] : [s.samplesValid])),
  ];
  const passed = results.filter(Boolean).length;
  const total = results.length;
  if (total > 0)
    parts.push("", `${passed} of ${total} validation${total === 1 ? "" : "s"} passed.`);
  const section = inferredSection(inferred);
  if (section) parts.push("", section);
  const notesText = notesSection(notes);
  if (notesText) parts.push("", notesText);
  return parts.join("\n");
}
