import { z } from "zod";
import type {
  BidQuery,
  CounterBody,
  HeartbeatBody,
  PostJobBody,
  RegisterBody,
  SubmitResultBody,
  UpdateAgentBody,
} from "../contract/requests.ts";
import type { HeartbeatStatus } from "../contract/statuses.ts";

/**
 * What the client reads and sends. The shapes both sides share (statuses, answers,
 * requests) live in src/contract and are re-exported here for the client's users;
 * what only the client needs (lenient listings, file sizes) is defined below.
 */
export * from "../contract/responses.ts";
export * from "../contract/statuses.ts";

/** Listings are checked job by job, so one malformed job does not sink the page. */
export const JobListingSchema = z.looseObject({
  jobs: z.array(z.unknown()),
  count: z.number().optional(),
});

/** What a client sends: the input types of the schemas the marketplace validates with. */
export type RegisterAgentRequest = z.input<typeof RegisterBody>;
export type PostJobRequest = z.input<typeof PostJobBody>;
export type SubmitResultRequest = z.input<typeof SubmitResultBody>;
/** Bid parameters; sent as query parameters, not JSON (a quirk of the real service). */
export type PlaceBidParams = z.input<typeof BidQuery>;
/** A heartbeat reports one of the statuses an agent may give itself. */
export type HeartbeatRequest = z.input<typeof HeartbeatBody> & { status: HeartbeatStatus };
/** The fields of an agent the runner changes: its webhook and its status. */
export type UpdateAgentRequest = Pick<z.input<typeof UpdateAgentBody>, "webhook_url"> & {
  status?: HeartbeatStatus;
};
export type CounterRequest = z.input<typeof CounterBody> & { by: "poster" | "agent" };

export const SuccessResponseSchema = z.looseObject({ success: z.boolean().optional() });

const SIZE_UNITS: Record<string, number> = { B: 1, KB: 1024, MB: 1024 * 1024, GB: 1024 ** 3 };

/**
 * Bytes of a file's size as the service shows it: "812 B", "3.4 KB", "1.2 MB"
 * (`format_file_size` in its files.py: one decimal, units of 1024), to within the
 * rounding of that decimal; undefined when the text is not such a size.
 */
export function parseDisplaySize(text: string): number | undefined {
  const match = /^\s*(\d+(?:\.\d+)?)\s*(B|KB|MB|GB)\s*$/i.exec(text);
  const unit = match?.[2] ? SIZE_UNITS[match[2].toUpperCase()] : undefined;
  if (!match?.[1] || unit === undefined) return undefined;
  return Math.round(Number(match[1]) * unit);
}

/** A file's size in bytes: a number, or the service's display string; an unreadable one is unknown. */
const FileSizeSchema = z
  .union([z.number(), z.string().transform((text) => parseDisplaySize(text) ?? null)])
  .nullish();

/**
 * A file attached to a job (GET /api/jobs/{id}/files). `size` is in bytes: the
 * service sends a display string there, read to bytes; `size_bytes` (the job's own
 * attachment records carry it) is exact, and preferred when present.
 */
export const JobFileSchema = z.looseObject({
  file_id: z.string().min(1),
  filename: z.string(),
  category: z.string().nullish(),
  size: FileSizeSchema,
  size_bytes: z.number().nullish(),
  mime_type: z.string().nullish(),
  uploaded_at: z.string().nullish(),
});
export type JobFile = z.infer<typeof JobFileSchema>;

export const JobFileListingSchema = z.looseObject({
  job_id: z.string().optional(),
  count: z.number().optional(),
  files: z.array(JobFileSchema),
});

/** POST /api/jobs/{id}/files: the file's metadata and its checksum. */
export const UploadedFileSchema = JobFileSchema.omit({ uploaded_at: true }).extend({
  checksum: z.string().nullish(),
});
export type UploadedFile = z.infer<typeof UploadedFileSchema>;
export const UpdateAgentResponseSchema = z.looseObject({
  success: z.boolean(),
  agent_id: z.string(),
  updated_fields: z.array(z.string()).default([]),
});
