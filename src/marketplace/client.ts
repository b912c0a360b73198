import { FormData } from "undici";
import { z } from "zod";
import { route } from "../contract/routes.ts";
import {
  DEFAULT_LISTING_LIMITS,
  type ListingLimits,
  ListingReader,
  TooLargeJob,
} from "./listing-reader.ts";
import {
  AgentListingSchema,
  type Bid,
  BidListingSchema,
  type HeartbeatRequest,
  type HeartbeatResponse,
  HeartbeatResponseSchema,
  type Job,
  type JobFile,
  JobFileListingSchema,
  JobListingSchema,
  JobSchema,
  type JobWithBids,
  JobWithBidsSchema,
  type MarketplaceAgent,
  MarketplaceAgentSchema,
  type PlaceBidParams,
  type PlaceBidResponse,
  PlaceBidResponseSchema,
  type PostJobRequest,
  PostJobResponseSchema,
  type RegisterAgentRequest,
  type RegisterAgentResponse,
  RegisterAgentResponseSchema,
  SelectBidResponseSchema,
  type SubmitResultRequest,
  SubmitResultResponseSchema,
  SuccessResponseSchema,
  type UpdateAgentRequest,
  UpdateAgentResponseSchema,
  type UploadedFile,
  UploadedFileSchema,
} from "./schemas.ts";
import { MarketplaceTransport, type TransportOptions } from "./transport.ts";

export interface MarketplaceClientOptions extends TransportOptions {
  /** Attempts for registration, which waits out the per-owner cooldown (429). */
  registrationAttempts?: number;
  /** Descriptions longer than this make a job too large (it is skipped, not fetched for work). */
  maxDescriptionChars?: number;
  /** How much of each listed job is kept; a job past a limit is rejected as `too_large`. */
  listingLimits?: Partial<ListingLimits>;
}

/** Why a listed job was rejected. */
export type RejectReason = "malformed" | "too_large";

/** A job of a listing that failed validation, or was past a limit of what is kept of one. */
export interface RejectedJob {
  jobId: string | undefined;
  problem: string;
  reason: RejectReason;
}

export interface JobListing {
  jobs: Job[];
  rejected: RejectedJob[];
}

/** The AgentBazaar API, typed. Every answer is checked against the contract. */
export class MarketplaceClient {
  readonly transport: MarketplaceTransport;
  readonly #registrationAttempts: number;
  readonly #listingLimits: ListingLimits;

  constructor(options: MarketplaceClientOptions) {
    this.transport = new MarketplaceTransport(options);
    this.#registrationAttempts = options.registrationAttempts ?? 12;
    this.#listingLimits = {
      ...DEFAULT_LISTING_LIMITS,
      ...options.listingLimits,
      ...(options.maxDescriptionChars === undefined
        ? {}
        : { descriptionChars: options.maxDescriptionChars }),
    };
  }

  get baseUrl(): string {
    return this.transport.baseUrl;
  }

  // Agents

  /** Registers an agent; waits out the per-owner cooldown (429) and retries. */
  registerAgent(body: RegisterAgentRequest, signal?: AbortSignal): Promise<RegisterAgentResponse> {
    return this.transport.call({
      route: route("registerAgent"),
      json: body,
      schema: RegisterAgentResponseSchema,
      // Many waits for the cooldown's 429s; an unreachable service fails fast, and
      // the worker's own backoff (woken when the marketplace is back) retries.
      maxAttempts: 2,
      rateLimitAttempts: this.#registrationAttempts,
      signal,
    });
  }

  async listAgents(): Promise<MarketplaceAgent[]> {
    const body = await this.transport.call({
      route: route("listAgents"),
      schema: AgentListingSchema,
    });
    return body.agents;
  }

  getAgent(agentId: string): Promise<MarketplaceAgent> {
    return this.transport.call({
      route: route("getAgent"),
      params: { agent_id: agentId },
      schema: MarketplaceAgentSchema,
    });
  }

  /** `PUT /api/agents/{id}`: changes fields of a registered agent (here: its webhook_url). */
  updateAgent(
    agentId: string,
    fields: UpdateAgentRequest,
    token?: string,
  ): Promise<z.infer<typeof UpdateAgentResponseSchema>> {
    return this.transport.call({
      route: route("updateAgent"),
      params: { agent_id: agentId },
      json: fields,
      schema: UpdateAgentResponseSchema,
      maxAttempts: 2,
      token,
    });
  }

  heartbeat(
    agentId: string,
    body: HeartbeatRequest,
    signal?: AbortSignal,
    token?: string,
  ): Promise<HeartbeatResponse> {
    return this.transport.call({
      route: route("heartbeat"),
      params: { agent_id: agentId },
      json: body,
      schema: HeartbeatResponseSchema,
      // A heartbeat is superseded by the next one: never retried.
      maxAttempts: 1,
      signal,
      token,
    });
  }

  async listAgentJobs(agentId: string, status?: string): Promise<JobListing> {
    const body = await this.transport.call({
      route: route("agentJobs"),
      params: { agent_id: agentId },
      query: { status },
      sink: () => new ListingReader(this.#listingLimits),
      schema: JobListingSchema,
    });
    return this.#checkJobs(body.jobs);
  }

  // Jobs

  /**
   * Every job matching the filters, each checked on its own: a malformed or too large
   * job is rejected, not fatal. The listing is read as it arrives (`ListingReader`), so
   * its size does not matter: the real service lists 100 jobs of up to 16 MB each.
   */
  async listJobs(
    filters: { status?: string; assigned_agent_id?: string } = {},
    signal?: AbortSignal,
    options: { maxAttempts?: number } = {},
  ): Promise<JobListing> {
    const body = await this.transport.call({
      route: route("listJobs"),
      query: filters,
      sink: () => new ListingReader(this.#listingLimits),
      schema: JobListingSchema,
      signal,
      maxAttempts: options.maxAttempts,
    });
    return this.#checkJobs(body.jobs);
  }

  getJob(jobId: string, signal?: AbortSignal): Promise<JobWithBids> {
    return this.transport.call({
      route: route("getJob"),
      params: { job_id: jobId },
      schema: JobWithBidsSchema,
      signal,
    });
  }

  postJob(body: PostJobRequest): Promise<z.infer<typeof PostJobResponseSchema>> {
    return this.transport.call({
      route: route("postJob"),
      json: body,
      schema: PostJobResponseSchema,
      maxAttempts: 1,
    });
  }

  // Job files

  /**
   * A job's files, each `size` in bytes: the service's display string ("3.4 KB") read
   * to bytes, or exact where a record carries `size_bytes`, as the job's own
   * `attachments` do (pass them to have their sizes preferred).
   */
  async listJobFiles(
    jobId: string,
    signal?: AbortSignal,
    attachments: readonly unknown[] = [],
  ): Promise<JobFile[]> {
    const body = await this.transport.call({
      route: route("listJobFiles"),
      params: { job_id: jobId },
      schema: JobFileListingSchema,
      signal,
    });
    const exact = exactSizes(attachments);
    return body.files.map((file) => {
      const bytes = file.size_bytes ?? exact.get(file.file_id);
      return bytes === undefined ? file : { ...file, size: bytes };
    });
  }

  /** A file's content as text (the agents read text files only). */
  downloadJobFile(jobId: string, fileId: string, signal?: AbortSignal): Promise<string> {
    return this.transport.call({
      route: route("downloadJobFile"),
      params: { job_id: jobId, file_id: fileId },
      text: true,
      schema: z.string(),
      signal,
    });
  }

  uploadJobFile(
    jobId: string,
    file: { filename: string; content: Uint8Array<ArrayBuffer>; uploadedBy: string },
  ): Promise<UploadedFile> {
    const form = new FormData();
    form.append("uploaded_by", file.uploadedBy);
    form.append("file", new Blob([file.content]), file.filename);
    return this.transport.call({
      route: route("uploadJobFile"),
      params: { job_id: jobId },
      form,
      schema: UploadedFileSchema,
      maxAttempts: 1,
    });
  }

  // Bids

  async listBids(jobId: string, signal?: AbortSignal): Promise<Bid[]> {
    const body = await this.transport.call({
      route: route("listBids"),
      params: { job_id: jobId },
      schema: BidListingSchema,
      signal,
    });
    return body.bids;
  }

  /**
   * Places a bid. Parameters go in the query string (the service's quirk). Not retried:
   * a bid that reached the service before a failure must not be placed twice; the next
   * poll checks the job's bid list instead.
   */
  placeBid(jobId: string, params: PlaceBidParams, signal?: AbortSignal): Promise<PlaceBidResponse> {
    return this.transport.call({
      route: route("placeBid"),
      params: { job_id: jobId },
      query: { ...params },
      schema: PlaceBidResponseSchema,
      maxAttempts: 1,
      signal,
    });
  }

  selectBid(jobId: string, bidId: string): Promise<z.infer<typeof SelectBidResponseSchema>> {
    return this.transport.call({
      route: route("selectBid"),
      params: { job_id: jobId, bid_id: bidId },
      schema: SelectBidResponseSchema,
      maxAttempts: 1,
    });
  }

  // Results

  /** Submits a result once; the caller (the outbox) owns retries across polls. */
  submitResult(
    jobId: string,
    body: SubmitResultRequest,
    signal?: AbortSignal,
  ): Promise<z.infer<typeof SubmitResultResponseSchema>> {
    return this.transport.call({
      route: route("submitResult"),
      params: { job_id: jobId },
      json: { tokens_used: 0, model: "", ...body },
      schema: SubmitResultResponseSchema,
      // The service answers every failure report with 500: the outbox's few tries are all
      // it gets, none doubled here.
      maxAttempts: body.success === false ? 1 : 2,
      signal,
    });
  }

  deleteJob(jobId: string): Promise<z.infer<typeof SuccessResponseSchema>> {
    return this.transport.call({
      route: route("deleteJob"),
      params: { job_id: jobId },
      schema: SuccessResponseSchema,
      maxAttempts: 1,
    });
  }

  #checkJobs(items: unknown[]): JobListing {
    const jobs: Job[] = [];
    const rejected: RejectedJob[] = [];
    for (const item of items) {
      if (item instanceof TooLargeJob) {
        rejected.push({ jobId: item.jobId, problem: item.problem, reason: "too_large" });
        continue;
      }
      const jobId =
        item &&
        typeof item === "object" &&
        typeof (item as { job_id?: unknown }).job_id === "string"
          ? (item as { job_id: string }).job_id
          : undefined;
      const parsed = JobSchema.safeParse(item);
      if (!parsed.success) {
        const issue = parsed.error.issues[0];
        rejected.push({
          jobId,
          problem: `${issue?.path.join(".") || "job"}: ${issue?.message}`,
          reason: "malformed",
        });
        continue;
      }
      const { budget_usd: budget, deadline_minutes: deadline } = parsed.data;
      if (typeof budget === "number" && !(Number.isFinite(budget) && budget >= 0)) {
        rejected.push({
          jobId,
          problem: `budget_usd: ${budget} is not a budget`,
          reason: "malformed",
        });
        continue;
      }
      if (!(Number.isFinite(deadline) && deadline >= 0)) {
        rejected.push({
          jobId,
          problem: `deadline_minutes: ${deadline} is not a deadline`,
          reason: "malformed",
        });
        continue;
      }
      jobs.push(parsed.data);
    }
    return { jobs, rejected };
  }
}

/** `file_id` → `size_bytes` of a job's attachment records (those that carry both). */
function exactSizes(attachments: readonly unknown[]): Map<string, number> {
  const sizes = new Map<string, number>();
  for (const item of attachments) {
    const { file_id: id, size_bytes: bytes } = (item ?? {}) as Record<string, unknown>;
    if (typeof id === "string" && typeof bytes === "number" && Number.isFinite(bytes)) {
      sizes.set(id, bytes);
    }
  }
  return sizes;
}
