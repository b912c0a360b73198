import { FormData } from "undici";
import { z } from "zod";
import {
  AgentListingSchema,
  type Bid,
  BidListingSchema,
  type HeartbeatResponse,
  HeartbeatResponseSchema,
  type HeartbeatStatus,
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
  UpdateAgentResponseSchema,
  type UploadedFile,
  UploadedFileSchema,
} from "./schemas.ts";
import { MarketplaceTransport, type TransportOptions } from "./transport.ts";

export interface MarketplaceClientOptions extends TransportOptions {
  /** Attempts for registration, which waits out the per-owner cooldown (429). */
  registrationAttempts?: number;
  /** Descriptions longer than this make a job malformed (it is skipped, not fetched for work). */
  maxDescriptionChars?: number;
}

/** A job of a listing that failed validation. */
export interface RejectedJob {
  jobId: string | undefined;
  problem: string;
}

export interface JobListing {
  jobs: Job[];
  rejected: RejectedJob[];
}

/** The AgentBazaar API, typed. Every answer is checked against the contract. */
export class MarketplaceClient {
  readonly transport: MarketplaceTransport;
  readonly #registrationAttempts: number;
  readonly #maxDescriptionChars: number;

  constructor(options: MarketplaceClientOptions) {
    this.transport = new MarketplaceTransport(options);
    this.#registrationAttempts = options.registrationAttempts ?? 12;
    this.#maxDescriptionChars = options.maxDescriptionChars ?? 256 * 1024;
  }

  get baseUrl(): string {
    return this.transport.baseUrl;
  }

  // Agents

  /** Registers an agent; waits out the per-owner cooldown (429) and retries. */
  registerAgent(body: RegisterAgentRequest, signal?: AbortSignal): Promise<RegisterAgentResponse> {
    return this.transport.call({
      route: "POST /api/agents/register",
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
      route: "GET /api/agents",
      schema: AgentListingSchema,
    });
    return body.agents;
  }

  getAgent(agentId: string): Promise<MarketplaceAgent> {
    return this.transport.call({
      route: "GET /api/agents/:id",
      params: { id: agentId },
      schema: MarketplaceAgentSchema,
    });
  }

  /** `PUT /api/agents/{id}`: changes fields of a registered agent (here: its webhook_url). */
  updateAgent(
    agentId: string,
    fields: { webhook_url?: string; status?: HeartbeatStatus },
    token?: string,
  ): Promise<z.infer<typeof UpdateAgentResponseSchema>> {
    return this.transport.call({
      route: "PUT /api/agents/:id",
      params: { id: agentId },
      json: fields,
      schema: UpdateAgentResponseSchema,
      maxAttempts: 2,
      token,
    });
  }

  heartbeat(
    agentId: string,
    body: { status: HeartbeatStatus; current_capacity: number; metadata?: Record<string, unknown> },
    signal?: AbortSignal,
    token?: string,
  ): Promise<HeartbeatResponse> {
    return this.transport.call({
      route: "POST /api/agents/:id/heartbeat",
      params: { id: agentId },
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
      route: "GET /api/agents/:id/jobs",
      params: { id: agentId },
      query: { status },
      schema: JobListingSchema,
    });
    return this.#checkJobs(body.jobs);
  }

  // Jobs

  /** Every job matching the filters, each checked on its own: a malformed job is rejected, not fatal. */
  async listJobs(
    filters: { status?: string; assigned_agent_id?: string } = {},
    signal?: AbortSignal,
    options: { maxAttempts?: number } = {},
  ): Promise<JobListing> {
    const body = await this.transport.call({
      route: "GET /api/jobs",
      query: filters,
      schema: JobListingSchema,
      signal,
      maxAttempts: options.maxAttempts,
    });
    return this.#checkJobs(body.jobs);
  }

  getJob(jobId: string, signal?: AbortSignal): Promise<JobWithBids> {
    return this.transport.call({
      route: "GET /api/jobs/:id",
      params: { id: jobId },
      schema: JobWithBidsSchema,
      signal,
    });
  }

  postJob(body: PostJobRequest): Promise<z.infer<typeof PostJobResponseSchema>> {
    return this.transport.call({
      route: "POST /api/jobs",
      json: body,
      schema: PostJobResponseSchema,
      maxAttempts: 1,
    });
  }

  // Job files

  async listJobFiles(jobId: string, signal?: AbortSignal): Promise<JobFile[]> {
    const body = await this.transport.call({
      route: "GET /api/jobs/:id/files",
      params: { id: jobId },
      schema: JobFileListingSchema,
      signal,
    });
    return body.files;
  }

  /** A file's content as text (the agents read text files only). */
  downloadJobFile(jobId: string, fileId: string, signal?: AbortSignal): Promise<string> {
    return this.transport.call({
      route: "GET /api/jobs/:id/files/:file",
      params: { id: jobId, file: fileId },
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
      route: "POST /api/jobs/:id/files",
      params: { id: jobId },
      form,
      schema: UploadedFileSchema,
      maxAttempts: 1,
    });
  }

  // Bids

  async listBids(jobId: string, signal?: AbortSignal): Promise<Bid[]> {
    const body = await this.transport.call({
      route: "GET /api/jobs/:id/bids",
      params: { id: jobId },
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
      route: "POST /api/jobs/:id/bids",
      params: { id: jobId },
      query: { ...params },
      schema: PlaceBidResponseSchema,
      maxAttempts: 1,
      signal,
    });
  }

  selectBid(jobId: string, bidId: string): Promise<z.infer<typeof SelectBidResponseSchema>> {
    return this.transport.call({
      route: "POST /api/jobs/:id/select-bid/:bid",
      params: { id: jobId, bid: bidId },
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
      route: "POST /api/jobs/:id/submit-result",
      params: { id: jobId },
      json: { tokens_used: 0, model: "", ...body },
      schema: SubmitResultResponseSchema,
      maxAttempts: 2,
      signal,
    });
  }

  deleteJob(jobId: string): Promise<z.infer<typeof SuccessResponseSchema>> {
    return this.transport.call({
      route: "DELETE /api/jobs/:id",
      params: { id: jobId },
      schema: SuccessResponseSchema,
      maxAttempts: 1,
    });
  }

  #checkJobs(items: unknown[]): JobListing {
    const jobs: Job[] = [];
    const rejected: RejectedJob[] = [];
    for (const item of items) {
      const jobId =
        item &&
        typeof item === "object" &&
        typeof (item as { job_id?: unknown }).job_id === "string"
          ? (item as { job_id: string }).job_id
          : undefined;
      const parsed = JobSchema.safeParse(item);
      if (!parsed.success) {
        const issue = parsed.error.issues[0];
        rejected.push({ jobId, problem: `${issue?.path.join(".") || "job"}: ${issue?.message}` });
        continue;
      }
      const { budget_usd: budget, deadline_minutes: deadline } = parsed.data;
      if (typeof budget === "number" && !(Number.isFinite(budget) && budget >= 0)) {
        rejected.push({ jobId, problem: `budget_usd: ${budget} is not a budget` });
        continue;
      }
      if (!(Number.isFinite(deadline) && deadline >= 0)) {
        rejected.push({ jobId, problem: `deadline_minutes: ${deadline} is not a deadline` });
        continue;
      }
      if (parsed.data.description.length > this.#maxDescriptionChars) {
        rejected.push({
          jobId,
          problem: `description: ${parsed.data.description.length} characters, more than ${this.#maxDescriptionChars}`,
        });
        continue;
      }
      jobs.push(parsed.data);
    }
    return { jobs, rejected };
  }
}
