import { createHash } from "node:crypto";
import { extname } from "node:path";
import type { FastifyInstance, FastifyRequest } from "fastify";
import { z } from "zod";
import { ApiError, badRequest, notFound, RequestValidationError } from "./errors.ts";
import type { MarketplaceStore } from "./store.ts";
import { isoTime, newId } from "./time.ts";

/**
 * Files attached to jobs (marketplace-api.md, "Job files"): up to 10 per job, 50 MB
 * each, of the allowed types; the bytes live in SQLite next to the job, and the job's
 * `attachments` lists the same metadata as the file listing.
 */

export const MAX_FILES_PER_JOB = 10;
export const MAX_FILE_BYTES = 50 * 1024 * 1024;

/** Allowed extensions by category, with the content type each is served with. */
const TYPES: Record<string, Record<string, string>> = {
  code: {
    ".py": "text/x-python",
    ".js": "text/javascript",
    ".mjs": "text/javascript",
    ".cjs": "text/javascript",
    ".jsx": "text/javascript",
    ".ts": "text/x-typescript",
    ".tsx": "text/x-typescript",
    ".java": "text/x-java",
    ".go": "text/x-go",
    ".rb": "text/x-ruby",
    ".php": "text/x-php",
    ".cs": "text/x-csharp",
    ".c": "text/x-c",
    ".h": "text/x-c",
    ".cpp": "text/x-c++",
    ".rs": "text/x-rust",
    ".kt": "text/x-kotlin",
    ".swift": "text/x-swift",
    ".sql": "application/sql",
    ".sh": "text/x-shellscript",
    ".graphql": "application/graphql",
  },
  data: {
    ".csv": "text/csv",
    ".tsv": "text/tab-separated-values",
    ".json": "application/json",
    ".jsonl": "application/x-ndjson",
    ".ndjson": "application/x-ndjson",
    ".xml": "application/xml",
    ".yaml": "application/yaml",
    ".yml": "application/yaml",
    ".log": "text/plain",
    ".parquet": "application/vnd.apache.parquet",
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
  },
  document: {
    ".txt": "text/plain",
    ".md": "text/markdown",
    ".pdf": "application/pdf",
    ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ".html": "text/html",
  },
  image: {
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".webp": "image/webp",
    ".svg": "image/svg+xml",
  },
};

function classify(filename: string): { category: string; mimeType: string } | undefined {
  const ext = extname(filename).toLowerCase();
  for (const [category, types] of Object.entries(TYPES)) {
    const mimeType = types[ext];
    if (mimeType) return { category, mimeType };
  }
  return undefined;
}

const FileRow = z.object({
  file_id: z.string(),
  filename: z.string(),
  category: z.string(),
  size: z.number(),
  mime_type: z.string(),
  uploaded_at: z.string(),
});
type FileMeta = z.output<typeof FileRow>;

function missing(field: string): RequestValidationError {
  return new RequestValidationError([
    { type: "missing", loc: ["body", field], msg: "Field required", input: null },
  ]);
}

/** The bytes and fields of a multipart upload; the first `file` part wins. */
async function readUpload(
  req: FastifyRequest,
): Promise<{ filename: string; bytes: Buffer; uploadedBy: string | undefined }> {
  if (!req.isMultipart()) throw missing("file");
  let file: { filename: string; bytes: Buffer } | undefined;
  let uploadedBy: string | undefined;
  try {
    for await (const part of req.parts({ limits: { fileSize: MAX_FILE_BYTES, files: 1 } })) {
      if (part.type === "file") {
        const bytes = await part.toBuffer();
        file ??= { filename: part.filename, bytes };
      } else if (part.fieldname === "uploaded_by" && typeof part.value === "string") {
        uploadedBy = part.value;
      }
    }
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    if (code === "FST_REQ_FILE_TOO_LARGE") {
      throw new ApiError(413, `File too large (max ${MAX_FILE_BYTES / (1024 * 1024)} MB)`);
    }
    if (code === "FST_FILES_LIMIT") throw badRequest("One file per upload");
    throw error;
  }
  if (!file) throw missing("file");
  return { ...file, uploadedBy };
}

export class JobFiles {
  readonly #store: MarketplaceStore;
  readonly #now: () => Date;

  constructor(store: MarketplaceStore, now: () => Date) {
    this.#store = store;
    this.#now = now;
  }

  #requireJob(jobId: string): void {
    if (!this.#store.getJob(jobId)) throw notFound("Job");
  }

  #list(jobId: string): FileMeta[] {
    return this.#store.db
      .prepare(
        "SELECT file_id, filename, category, size, mime_type, uploaded_at FROM job_files WHERE job_id = ? ORDER BY seq",
      )
      .all(jobId)
      .map((row) => FileRow.parse(row));
  }

  list(jobId: string) {
    this.#requireJob(jobId);
    const files = this.#list(jobId);
    return { job_id: jobId, count: files.length, files };
  }

  download(jobId: string, fileId: string): { bytes: Buffer; mimeType: string; filename: string } {
    const row = this.#store.db
      .prepare(
        "SELECT filename, mime_type, content FROM job_files WHERE job_id = ? AND file_id = ?",
      )
      .get(jobId, fileId);
    if (!row) throw notFound("File");
    return {
      bytes: Buffer.from(row.content as Uint8Array),
      mimeType: String(row.mime_type),
      filename: String(row.filename),
    };
  }

  add(jobId: string, filename: string, bytes: Buffer, uploadedBy: string) {
    this.#requireJob(jobId);
    const name = filename.replace(/^.*[\\/]/, "").trim();
    const kind = classify(name);
    if (!name || !kind) throw badRequest(`File type not allowed: ${name || "(no name)"}`);
    if (bytes.byteLength > MAX_FILE_BYTES) throw new ApiError(413, "File too large (max 50 MB)");
    const checksum = createHash("sha256").update(bytes).digest("hex");
    const meta: FileMeta = {
      file_id: newId("file"),
      filename: name,
      category: kind.category,
      size: bytes.byteLength,
      mime_type: kind.mimeType,
      uploaded_at: isoTime(this.#now()),
    };
    this.#store.transaction(() => {
      if (this.#list(jobId).length >= MAX_FILES_PER_JOB) {
        throw badRequest(`A job may have at most ${MAX_FILES_PER_JOB} files`);
      }
      this.#store.db
        .prepare(
          "INSERT INTO job_files (file_id, job_id, filename, category, size, mime_type, checksum, uploaded_by, uploaded_at, content) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .run(
          meta.file_id,
          jobId,
          meta.filename,
          meta.category,
          meta.size,
          meta.mime_type,
          checksum,
          uploadedBy,
          meta.uploaded_at,
          bytes,
        );
      this.#store.updateJob(jobId, { attachments: this.#list(jobId) });
    });
    const { uploaded_at: _at, ...answer } = meta;
    return { ...answer, checksum };
  }

  allowedTypes() {
    return {
      categories: Object.fromEntries(
        Object.entries(TYPES).map(([category, types]) => [category, Object.keys(types)]),
      ),
      max_file_size_bytes: MAX_FILE_BYTES,
      max_files_per_job: MAX_FILES_PER_JOB,
    };
  }
}

interface FileParams {
  Params: { job_id: string; file_id: string };
}
interface JobParams {
  Params: { job_id: string };
}

export function registerFileRoutes(app: FastifyInstance, files: JobFiles): void {
  app.get("/api/files/allowed-types", async () => files.allowedTypes());
  app.get<JobParams>("/api/jobs/:job_id/files", async (req) => files.list(req.params.job_id));
  app.get<FileParams>("/api/jobs/:job_id/files/:file_id", async (req, reply) => {
    const file = files.download(req.params.job_id, req.params.file_id);
    return reply
      .type(file.mimeType)
      .header("content-disposition", `attachment; filename="${file.filename.replace(/"/g, "")}"`)
      .send(file.bytes);
  });
  app.post<JobParams>("/api/jobs/:job_id/files", async (req) => {
    const upload = await readUpload(req);
    if (!upload.uploadedBy) throw missing("uploaded_by");
    return files.add(req.params.job_id, upload.filename, upload.bytes, upload.uploadedBy);
  });
}
