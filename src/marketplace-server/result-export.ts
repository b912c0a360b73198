import { stringify } from "csv-stringify/sync";
import type { FastifyInstance } from "fastify";
import { z } from "zod";
import { ROUTES } from "../contract/routes.ts";
import { badRequest, InternalError, notFound } from "./errors.ts";
import type { MarketplaceStore } from "./store.ts";
import { parseQuery } from "./validation.ts";

/**
 * `GET /api/jobs/{job_id}/result/export?format=json|csv|markdown|text`: a job's result
 * as a download, formatted as the service's files.py formats it (Python's `json.dumps`,
 * `csv` and `str` conventions where they show).
 */

const FORMATS = ["json", "csv", "markdown", "text"] as const;
type Format = (typeof FORMATS)[number];
const EXPECTED = "'json', 'csv', 'markdown' or 'text'";

/** The `format` query parameter: one of FORMATS, else FastAPI's enum 422. */
const ExportQuery = z.object({
  format: z
    .unknown()
    .transform((v, ctx): Format => {
      if (typeof v === "string" && (FORMATS as readonly string[]).includes(v)) return v as Format;
      ctx.addIssue({
        code: "custom",
        message: `Input should be ${EXPECTED}`,
        params: { fastapi: "enum", input: v, ctx: { expected: EXPECTED } },
      });
      return z.NEVER;
    })
    .default("json"),
});

const MEDIA: Record<Format, { type: string; extension: string }> = {
  json: { type: "application/json", extension: "json" },
  csv: { type: "text/csv; charset=utf-8", extension: "csv" },
  markdown: { type: "text/markdown; charset=utf-8", extension: "md" },
  text: { type: "text/plain; charset=utf-8", extension: "txt" },
};

type Json = unknown;
const isRecord = (v: Json): v is Record<string, Json> =>
  typeof v === "object" && v !== null && !Array.isArray(v);

/** `json.dumps(value, indent=2)`: JSON.stringify's layout, with non-ASCII escaped as Python does. */
export function pythonJson(value: Json): string {
  return (JSON.stringify(value, null, 2) ?? "null").replace(
    /[\u0080-\uffff]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
}

/** Python's `str()` of a JSON value, where it differs from JavaScript's. */
function pythonStr(value: Json): string {
  if (value === null || value === undefined) return "None";
  if (value === true) return "True";
  if (value === false) return "False";
  if (typeof value === "string") return value;
  if (typeof value === "number") return String(value);
  return JSON.stringify(value);
}

/** The rows of the CSV export: a list found under data/results/items, else the object itself. */
function csvRows(result: Json): Json[] {
  if (isRecord(result)) {
    for (const key of ["data", "results", "items"]) {
      const rows = result[key];
      if (Array.isArray(rows)) return rows;
    }
    return [result];
  }
  if (Array.isArray(result)) return result;
  return [{ result: pythonStr(result) }];
}

export function exportCsv(result: Json): string {
  const rows = csvRows(result);
  const cast = {
    boolean: (v: boolean) => (v ? "True" : "False"),
    object: (v: object) => JSON.stringify(v),
  };
  const options = { record_delimiter: "windows" as const, cast };
  const first = rows[0];
  if (isRecord(first)) {
    const columns = Object.keys(first);
    for (const row of rows) {
      // csv.DictWriter raises on a row with another shape: the service's bare 500.
      if (!isRecord(row)) throw new InternalError("CSV export: a row is not an object");
      const extra = Object.keys(row).filter((k) => !columns.includes(k));
      if (extra.length > 0) {
        throw new InternalError(`dict contains fields not in fieldnames: ${extra.join(", ")}`);
      }
    }
    return stringify(rows as Record<string, unknown>[], { ...options, header: true, columns });
  }
  return stringify(
    rows.map((item) => [typeof item === "string" ? item : pythonStr(item)]),
    options,
  );
}

export function exportMarkdown(result: Json, title: string, exportedAt: Date): string {
  const lines = [
    `# ${title}`,
    "",
    `**Exported:** ${exportedAt.toISOString().replace("Z", "000+00:00")}`,
    "",
    "## Result",
    "",
  ];
  if (isRecord(result)) {
    for (const [key, value] of Object.entries(result)) {
      if (typeof value === "object" && value !== null) {
        lines.push(`### ${key}`, "", "```json", pythonJson(value), "```", "");
      } else {
        lines.push(`**${key}:** ${pythonStr(value)}`, "");
      }
    }
  } else {
    lines.push(pythonStr(result));
  }
  return lines.join("\n");
}

export function exportText(result: Json): string {
  if (isRecord(result)) {
    for (const key of ["output", "text", "result"]) {
      if (key in result) return pythonStr(result[key]);
    }
  }
  return pythonJson(result);
}

/** The download's name: the title's first 30 characters made safe, and the job id's last 8. */
export function exportFilename(title: string, jobId: string, extension: string): string {
  // ASCII letters and digits only: a header must stay Latin-1 (the service's keeps
  // any Unicode letter, and a title in another script then fails its response).
  const safe = [...title.slice(0, 30)].map((c) => (/[A-Za-z0-9_-]/.test(c) ? c : "_")).join("");
  return `${safe}_${jobId.slice(-8)}.${extension}`;
}

interface JobParams {
  Params: { job_id: string };
}

export function registerResultExportRoute(
  app: FastifyInstance,
  store: MarketplaceStore,
  now: () => Date,
): void {
  app.get<JobParams>(ROUTES.exportResult.path, async (req, reply) => {
    const { format } = parseQuery(ExportQuery, req.query);
    const job = store.getJob(req.params.job_id);
    if (!job) throw notFound("Job");
    if (!job.result) throw badRequest("Job has no result yet");
    const title = job.title || "Job Result";
    const content =
      format === "json"
        ? pythonJson(job.result)
        : format === "csv"
          ? exportCsv(job.result)
          : format === "markdown"
            ? exportMarkdown(job.result, title, now())
            : exportText(job.result);
    const media = MEDIA[format];
    return reply
      .type(media.type)
      .header(
        "content-disposition",
        `attachment; filename="${exportFilename(title, job.job_id, media.extension)}"`,
      )
      .send(Buffer.from(content, "utf8"));
  });
}
