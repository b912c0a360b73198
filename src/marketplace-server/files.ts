import { createHash, randomBytes } from "node:crypto";
import { extname } from "node:path";
import type { FastifyInstance, FastifyRequest } from "fastify";
import { z } from "zod";
import { ROUTES } from "../contract/routes.ts";
import { isoTime } from "../contract/time.ts";
import { badRequest, notFound, RequestValidationError } from "./errors.ts";
import type { MarketplaceStore } from "./store.ts";

/**
 * Files attached to jobs (marketplace-api.md, "Job files"): up to 10 per job, 50 MB
 * each, of the service's allowed types; the bytes live in SQLite next to the job, and
 * the job's `attachments` holds the service's full records (size in bytes there, a
 * display string in the listing and the upload's answer).
 */

export const MAX_FILES_PER_JOB = 10;
export const MAX_FILE_MB = 50;
export const MAX_FILE_BYTES = MAX_FILE_MB * 1024 * 1024;

/**
 * Allowed extensions by category (files.py `ALLOWED_EXTENSIONS`, in its category order),
 * with the content type each is served with (a fixed table standing in for Python's
 * `mimetypes`).
 */
const TYPES: Record<string, Record<string, string>> = {
  code: {
    ".py": "text/x-python",
    ".pyi": "text/x-python",
    ".pyx": "text/x-python",
    ".pyd": "application/octet-stream",
    ".js": "text/javascript",
    ".jsx": "text/javascript",
    ".ts": "text/x-typescript",
    ".tsx": "text/x-typescript",
    ".mjs": "text/javascript",
    ".cjs": "text/javascript",
    ".html": "text/html",
    ".htm": "text/html",
    ".css": "text/css",
    ".scss": "text/x-scss",
    ".sass": "text/x-sass",
    ".less": "text/x-less",
    ".json": "application/json",
    ".yaml": "application/yaml",
    ".yml": "application/yaml",
    ".toml": "application/toml",
    ".xml": "application/xml",
    ".sh": "text/x-shellscript",
    ".bash": "text/x-shellscript",
    ".zsh": "text/x-shellscript",
    ".fish": "text/x-shellscript",
    ".go": "text/x-go",
    ".rs": "text/x-rust",
    ".java": "text/x-java",
    ".kt": "text/x-kotlin",
    ".scala": "text/x-scala",
    ".c": "text/x-c",
    ".cpp": "text/x-c++",
    ".h": "text/x-c",
    ".hpp": "text/x-c++",
    ".cs": "text/x-csharp",
    ".rb": "text/x-ruby",
    ".php": "text/x-php",
    ".swift": "text/x-swift",
    ".m": "text/x-objective-c",
    ".mm": "text/x-objective-c++",
    ".env": "text/plain",
    ".ini": "text/plain",
    ".cfg": "text/plain",
    ".conf": "text/plain",
    ".ipynb": "application/x-ipynb+json",
    ".sql": "application/sql",
    ".md": "text/markdown",
    ".mdx": "text/markdown",
    ".rst": "text/x-rst",
    ".txt": "text/plain",
  },
  image: {
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".webp": "image/webp",
    ".svg": "image/svg+xml",
    ".ico": "image/vnd.microsoft.icon",
    ".bmp": "image/bmp",
  },
  document: {
    ".pdf": "application/pdf",
    ".doc": "application/msword",
    ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ".xls": "application/vnd.ms-excel",
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ".ppt": "application/vnd.ms-powerpoint",
    ".pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    ".odt": "application/vnd.oasis.opendocument.text",
    ".ods": "application/vnd.oasis.opendocument.spreadsheet",
    ".odp": "application/vnd.oasis.opendocument.presentation",
    ".rtf": "application/rtf",
  },
  data: {
    ".csv": "text/csv",
    ".tsv": "text/tab-separated-values",
    ".parquet": "application/vnd.apache.parquet",
    ".arrow": "application/vnd.apache.arrow.file",
    ".feather": "application/octet-stream",
    ".jsonl": "application/jsonl",
    ".ndjson": "application/x-ndjson",
  },
};

/** A size as the service shows it (files.py `format_file_size`): "812 B", "3.4 KB", "1.2 MB". */
export function formatFileSize(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${pyFixed1(bytes / 1024)} KB`;
  return `${pyFixed1(bytes / (1024 * 1024))} MB`;
}

/**
 * Python's `f"{x:.1f}"`. Both it and toFixed round the exact binary value; they differ
 * on an exact tie (1280 bytes are 1.25 KB), which Python rounds to even ("1.2").
 */
function pyFixed1(x: number): string {
  const tenths = x * 10;
  const floor = Math.floor(tenths);
  if (tenths - floor === 0.5) return ((floor % 2 === 0 ? floor : floor + 1) / 10).toFixed(1);
  return x.toFixed(1);
}

/**
 * A Content-Disposition for a download, as Starlette's FileResponse writes it: the plain
 * `filename="…"` when the name needs no quoting, else `filename*=utf-8''…` (percent-
 * encoded UTF-8), so that a name like `文件.csv` is a valid header.
 */
export function contentDisposition(filename: string): string {
  const quoted = pyQuote(filename);
  return quoted === filename
    ? `attachment; filename="${filename}"`
    : `attachment; filename*=utf-8''${quoted}`;
}

/** Python's `urllib.parse.quote` (safe "/"): encodeURIComponent, plus !'()* encoded, "/" kept. */
function pyQuote(text: string): string {
  return encodeURIComponent(text)
    .replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)
    .replace(/%2F/g, "/");
}

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
      throw badRequest(`File exceeds maximum size of ${MAX_FILE_MB}MB`);
    }
    if (code === "FST_FILES_LIMIT") throw badRequest("One file per upload");
    throw error;
  }
  if (!file) throw missing("file");
  return { ...file, uploadedBy };
}

/** A job's attachment record, as the service keeps it on the job (files.py `JobAttachment`). */
interface Attachment {
  file_id: string;
  job_id: string;
  filename: string;
  original_filename: string;
  category: string;
  mime_type: string;
  size_bytes: number;
  checksum_sha256: string;
  uploaded_by: string;
  uploaded_at: string;
  storage_path: string;
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

  /** The listing, with `size` as the service shows it ("3.4 KB"). */
  list(jobId: string) {
    this.#requireJob(jobId);
    const files = this.#list(jobId).map((f) => ({ ...f, size: formatFileSize(f.size) }));
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

  /** Stores an upload, with the service's checks and messages (api.py `upload_file_to_job`). */
  add(jobId: string, filename: string, bytes: Buffer, uploadedBy: string) {
    this.#requireJob(jobId);
    const name = filename.replace(/^.*[\\/]/, "").trim();
    if (!name) throw badRequest("Filename required");
    const kind = classify(name);
    if (!kind) {
      throw badRequest("File type not allowed. See /api/files/allowed-types for accepted formats.");
    }
    if (bytes.byteLength > MAX_FILE_BYTES) {
      throw badRequest(`File exceeds maximum size of ${MAX_FILE_MB}MB`);
    }
    const fileId = `file_${randomBytes(6).toString("hex")}`;
    const attachment: Attachment = {
      file_id: fileId,
      job_id: jobId,
      filename: `${fileId}_${name}`,
      original_filename: name,
      category: kind.category,
      mime_type: kind.mimeType,
      size_bytes: bytes.byteLength,
      checksum_sha256: createHash("sha256").update(bytes).digest("hex"),
      uploaded_by: uploadedBy,
      uploaded_at: isoTime(this.#now()),
      storage_path: `${jobId}/${fileId}_${name}`,
    };
    this.#store.transaction(() => {
      const job = this.#store.getJob(jobId);
      if (!job) throw notFound("Job");
      if (job.attachments.length >= MAX_FILES_PER_JOB) {
        throw badRequest(`Maximum ${MAX_FILES_PER_JOB} files per job`);
      }
      this.#store.db
        .prepare(
          "INSERT INTO job_files (file_id, job_id, filename, category, size, mime_type, checksum, uploaded_by, uploaded_at, content) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .run(
          fileId,
          jobId,
          name,
          attachment.category,
          attachment.size_bytes,
          attachment.mime_type,
          attachment.checksum_sha256,
          uploadedBy,
          attachment.uploaded_at,
          bytes,
        );
      this.#store.updateJob(jobId, { attachments: [...job.attachments, attachment] });
    });
    return {
      file_id: fileId,
      filename: name,
      category: attachment.category,
      size: formatFileSize(attachment.size_bytes),
      mime_type: attachment.mime_type,
      checksum: attachment.checksum_sha256,
    };
  }

  /** api.py `get_allowed_file_types`: each category's extensions, sorted. */
  allowedTypes() {
    return {
      max_file_size_mb: MAX_FILE_MB,
      max_files_per_job: MAX_FILES_PER_JOB,
      allowed_extensions: Object.fromEntries(
        Object.entries(TYPES).map(([category, types]) => [category, Object.keys(types).sort()]),
      ),
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
  app.get(ROUTES.allowedFileTypes.path, async () => files.allowedTypes());
  app.get<JobParams>(ROUTES.listJobFiles.path, async (req) => files.list(req.params.job_id));
  app.get<FileParams>(ROUTES.downloadJobFile.path, async (req, reply) => {
    const file = files.download(req.params.job_id, req.params.file_id);
    return reply
      .type(file.mimeType)
      .header("content-disposition", contentDisposition(file.filename))
      .send(file.bytes);
  });
  app.post<JobParams>(ROUTES.uploadJobFile.path, async (req) => {
    const upload = await readUpload(req);
    // `uploaded_by` is a form field with a default on the service.
    return files.add(
      req.params.job_id,
      upload.filename,
      upload.bytes,
      upload.uploadedBy ?? "anonymous",
    );
  });
}
