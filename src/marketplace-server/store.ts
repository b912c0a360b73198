import { chmodSync, closeSync, existsSync, openSync } from "node:fs";
import type { DatabaseSync, SQLInputValue } from "node:sqlite";
import { z } from "zod";
import { parseTime } from "../contract/time.ts";
import { InvalidArgumentError } from "../errors.ts";
import { openSqlite, transaction } from "../sqlite.ts";
import { MIGRATIONS } from "./migrations.ts";

/**
 * Persistence of the embedded marketplace: agents, jobs and bids in one SQLite file
 * (WAL mode). Rows are checked with zod on the way out; JSON-valued fields are stored
 * as JSON text. Business rules live in rules.ts, not here.
 */

const jsonText = <T extends z.ZodType>(schema: T) =>
  z.string().transform((text, ctx): z.output<T> => {
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      ctx.addIssue({ code: "custom", message: "bad JSON column: not JSON" });
      return z.NEVER;
    }
    const parsed = schema.safeParse(value);
    if (parsed.success) return parsed.data;
    ctx.addIssue({ code: "custom", message: `bad JSON column: ${parsed.error.message}` });
    return z.NEVER;
  });

const CounterOfferSchema = z.object({
  price_usd: z.number(),
  message: z.string(),
  by: z.string(),
  created_at: z.string(),
});
export type CounterOffer = z.output<typeof CounterOfferSchema>;

// Loose: a hosted execution's result keeps the LLM's own keys beside these (hosted-execution.ts).
const JobResultSchema = z.looseObject({
  success: z.boolean(),
  output: z.string(),
  // Absent from a result a webhook agent answered with (submit.py: success, output, executed_by).
  tokens_used: z.number().optional(),
  model: z.string().optional(),
  executed_by: z.string(),
  submitted_at: z.string().optional(),
});
export type JobResult = z.output<typeof JobResultSchema>;

const JsonObject = z.record(z.string(), z.unknown());

const AgentRow = z.object({
  agent_id: z.string(),
  name: z.string(),
  description: z.string(),
  owner_id: z.string(),
  wallet_address: z.string(),
  execution_mode: z.string(),
  webhook_url: z.string().nullable(),
  provider: z.string(),
  model: z.string().nullable(),
  base_rate_usd: z.number(),
  rate_per_1k_tokens: z.number(),
  capabilities: jsonText(z.record(z.string(), z.number())),
  status: z.string(),
  current_capacity: z.number(),
  heartbeat_metadata: jsonText(JsonObject).nullable(),
  last_active: z.string().nullable(),
  created_at: z.string(),
  jobs_completed: z.number(),
  total_earned_usd: z.number(),
  // Reputation (migration 6), optional in the type so that a new agent may leave them to
  // their defaults (0); every stored agent has them. Written by reviews and hosted execution.
  rating_avg: z.number().optional(),
  rating_count: z.number().optional(),
  jobs_failed: z.number().optional(),
  dispute_rate: z.number().optional(),
});
export type AgentDoc = z.output<typeof AgentRow>;

const JobRow = z.object({
  job_id: z.string(),
  poster_id: z.string(),
  poster_wallet: z.string(),
  title: z.string(),
  description: z.string(),
  task_type: z.string(),
  required_capabilities: jsonText(z.array(z.string())),
  min_capability_score: z.number(),
  data_context: jsonText(JsonObject).nullable(),
  attachments: jsonText(z.array(z.unknown())),
  budget_usd: z.number(),
  deadline_minutes: z.number(),
  escrow_txn_id: z.string().nullable(),
  status: z.string(),
  bid_count: z.number(),
  bid_deadline: z.string().nullable(),
  winning_bid_id: z.string().nullable(),
  assigned_agent_id: z.string().nullable(),
  final_price_usd: z.number().nullable(),
  result: jsonText(JobResultSchema).nullable(),
  quality_score: z.number().nullable(),
  created_at: z.string(),
  assigned_at: z.string().nullable(),
  completed_at: z.string().nullable(),
  // Hosted execution and its human review (migration 6); null until then.
  ai_quality_suggestion: jsonText(JsonObject).nullish(),
  human_review_decision: z.string().nullish(),
  human_review_rating: z.number().nullish(),
  human_review_feedback: z.string().nullish(),
  reviewed_by: z.string().nullish(),
  reviewed_at: z.string().nullish(),
});
export type JobDoc = z.output<typeof JobRow>;

const BidRow = z.object({
  bid_id: z.string(),
  job_id: z.string(),
  agent_id: z.string(),
  price_usd: z.number(),
  estimated_time_seconds: z.number(),
  confidence: z.number(),
  approach: z.string(),
  status: z.string(),
  counter_offers: jsonText(z.array(CounterOfferSchema)),
  final_price_usd: z.number().nullable(),
  created_at: z.string(),
  accepted_at: z.string().nullable(),
  // Set with status `cancelled` by the stale-agent sweep (migration 7).
  cancelled_reason: z.string().nullish(),
});
export type BidDoc = z.output<typeof BidRow>;

const JSON_COLUMNS = new Set([
  "ai_quality_suggestion",
  "capabilities",
  "heartbeat_metadata",
  "required_capabilities",
  "data_context",
  "attachments",
  "result",
  "counter_offers",
]);

type Table = "agents" | "jobs" | "bids";
const KEY: Record<Table, string> = { agents: "agent_id", jobs: "job_id", bids: "bid_id" };
const COLUMNS: Record<Table, readonly string[]> = {
  agents: Object.keys(AgentRow.shape),
  jobs: Object.keys(JobRow.shape),
  bids: Object.keys(BidRow.shape),
};

function encode(column: string, value: unknown): SQLInputValue {
  if (value === undefined || value === null) return null;
  if (JSON_COLUMNS.has(column)) return JSON.stringify(value);
  if (typeof value === "boolean") return value ? 1 : 0;
  if (typeof value === "string" || typeof value === "number") return value;
  throw new InvalidArgumentError(`cannot store ${typeof value} in column ${column}`);
}

/** Filters of the job listing; both optional, as on the real service. */
export interface JobFilter {
  status?: string | null;
  assigned_agent_id?: string | null;
}

/**
 * The database holds session hashes, wallets and uploaded files: readable by its owner
 * only. A new file is made 0600; an existing one (and its WAL and shared-memory files,
 * which SQLite creates with the database's mode) is brought to 0600.
 */
function ownerOnly(dbPath: string): void {
  if (!existsSync(dbPath)) closeSync(openSync(dbPath, "a", 0o600));
  for (const file of [dbPath, `${dbPath}-wal`, `${dbPath}-shm`]) {
    if (existsSync(file)) chmodSync(file, 0o600);
  }
}

/** A stored row that does not parse: skipped by listings, counted and told to `onBadRow`. */
export interface BadRow {
  table: Table;
  key: string;
  problem: string;
}

/** How many jobs the service's listings hold (db.py `get_all_jobs(limit=100)`). */
export const LISTING_LIMIT = 100;

export class MarketplaceStore {
  readonly db: DatabaseSync;
  readonly schemaVersion: number;
  /** Rows skipped by listings because they did not parse, since start. */
  badRows = 0;
  /** Told of each skipped row (the app logs it). */
  onBadRow: (row: BadRow) => void = () => {};

  constructor(dbPath: string) {
    const { db, schemaVersion } = openSqlite({
      name: "marketplace",
      path: dbPath,
      migrations: MIGRATIONS,
      synchronous: "NORMAL",
      beforeOpen: (path) => {
        if (path !== ":memory:") ownerOnly(path);
      },
    });
    this.db = db;
    this.schemaVersion = schemaVersion;
  }

  /** Runs `fn` in one transaction (joined, if one is already open). */
  transaction<T>(fn: () => T): T {
    return transaction(this.db, fn);
  }

  close(): void {
    if (this.db.isOpen) this.db.close();
  }

  // --- generic row helpers ---

  private insert(table: Table, doc: Record<string, unknown>): void {
    // A field left undefined takes its column's default.
    const cols = COLUMNS[table].filter((c) => doc[c] !== undefined);
    const sql = `INSERT INTO ${table} (${cols.join(", ")}) VALUES (${cols.map(() => "?").join(", ")})`;
    this.db.prepare(sql).run(...cols.map((c) => encode(c, doc[c])));
  }

  private update(table: Table, id: string, patch: Record<string, unknown>): boolean {
    const cols = Object.keys(patch).filter((c) => COLUMNS[table].includes(c) && c !== KEY[table]);
    if (cols.length === 0) return false;
    const sql = `UPDATE ${table} SET ${cols.map((c) => `${c} = ?`).join(", ")} WHERE ${KEY[table]} = ?`;
    const res = this.db.prepare(sql).run(...cols.map((c) => encode(c, patch[c])), id);
    return Number(res.changes) > 0;
  }

  private remove(table: Table, id: string): boolean {
    const res = this.db.prepare(`DELETE FROM ${table} WHERE ${KEY[table]} = ?`).run(id);
    return Number(res.changes) > 0;
  }

  /**
   * Parses listed rows, skipping those that do not parse (a value written by an older
   * version, or by hand): one bad row must not fail the whole listing.
   */
  private parseRows<T>(table: Table, schema: z.ZodType<T>, rows: readonly unknown[]): T[] {
    const out: T[] = [];
    for (const row of rows) {
      const parsed = schema.safeParse(row);
      if (parsed.success) {
        out.push(parsed.data);
        continue;
      }
      this.badRows += 1;
      const key = String((row as Record<string, unknown>)[KEY[table]] ?? "?");
      this.onBadRow({ table, key, problem: parsed.error.issues.map((i) => i.message).join("; ") });
    }
    return out;
  }

  // --- agents ---

  insertAgent(doc: AgentDoc): void {
    this.insert("agents", doc);
  }

  getAgent(agentId: string): AgentDoc | null {
    const row = this.db.prepare("SELECT * FROM agents WHERE agent_id = ?").get(agentId);
    return row ? AgentRow.parse(row) : null;
  }

  /** The agent that owns this wallet, compared case-insensitively. */
  findAgentByWallet(wallet: string): AgentDoc | null {
    const row = this.db
      .prepare("SELECT * FROM agents WHERE lower(wallet_address) = lower(?) ORDER BY seq LIMIT 1")
      .get(wallet);
    return row ? AgentRow.parse(row) : null;
  }

  /** The first agent (by registration) whose wallet or owner id is this wallet, any case. */
  findAgentOwnedBy(wallet: string): AgentDoc | null {
    const row = this.db
      .prepare(
        "SELECT * FROM agents WHERE lower(wallet_address) = lower(?) OR lower(owner_id) = lower(?) ORDER BY seq LIMIT 1",
      )
      .get(wallet, wallet);
    return row ? AgentRow.parse(row) : null;
  }

  /** The agents of these ids that exist, by id: one query, not a listing of every agent. */
  agentsById(ids: readonly string[]): Map<string, AgentDoc> {
    const rows = this.db
      .prepare("SELECT * FROM agents WHERE agent_id IN (SELECT value FROM json_each(?))")
      .all(JSON.stringify([...new Set(ids)]));
    return new Map(this.parseRows("agents", AgentRow, rows).map((a) => [a.agent_id, a]));
  }

  listAgents(): AgentDoc[] {
    return this.parseRows(
      "agents",
      AgentRow,
      this.db.prepare("SELECT * FROM agents ORDER BY seq").all(),
    );
  }

  /**
   * The agents the service lists (db.py `get_all_agents`): the first `limit` by
   * rating_avg, then jobs_completed, highest first (ties in registration order).
   */
  topAgents(limit = LISTING_LIMIT): AgentDoc[] {
    const rows = this.db
      .prepare("SELECT * FROM agents ORDER BY rating_avg DESC, jobs_completed DESC, seq LIMIT ?")
      .all(limit);
    return this.parseRows("agents", AgentRow, rows);
  }

  /**
   * Agents the sweep takes offline: `available` or `busy`, and last active before
   * `cutoff` (or never). Times are compared as instants, whatever their zone.
   */
  staleAgents(cutoff: Date): AgentDoc[] {
    const rows = this.db
      .prepare("SELECT * FROM agents WHERE status IN ('available', 'busy') ORDER BY seq")
      .all();
    return this.parseRows("agents", AgentRow, rows).filter(
      (a) => a.last_active === null || !(parseTime(a.last_active).getTime() >= cutoff.getTime()),
    );
  }

  updateAgent(agentId: string, patch: Partial<AgentDoc>): boolean {
    return this.update("agents", agentId, patch);
  }

  deleteAgent(agentId: string): boolean {
    return this.remove("agents", agentId);
  }

  // --- jobs ---

  insertJob(doc: JobDoc): void {
    this.insert("jobs", doc);
  }

  getJob(jobId: string): JobDoc | null {
    const row = this.db.prepare("SELECT * FROM jobs WHERE job_id = ?").get(jobId);
    return row ? JobRow.parse(row) : null;
  }

  /**
   * The jobs the service lists (db.py `get_all_jobs`): the newest `limit` jobs of the
   * whole marketplace by created_at, THEN filtered, so an older job is never listed.
   */
  newestJobs(filter: JobFilter = {}, limit = LISTING_LIMIT): JobDoc[] {
    const rows = this.db
      .prepare("SELECT * FROM jobs ORDER BY created_at DESC, seq DESC LIMIT ?")
      .all(limit);
    return this.parseRows("jobs", JobRow, rows).filter(
      (j) =>
        (!filter.status || j.status === filter.status) &&
        (!filter.assigned_agent_id || j.assigned_agent_id === filter.assigned_agent_id),
    );
  }

  /** Every matching job, newest first (for the marketplace's own bookkeeping). */
  listJobs(filter: JobFilter = {}): JobDoc[] {
    const where: string[] = [];
    const args: string[] = [];
    if (filter.status) {
      where.push("status = ?");
      args.push(filter.status);
    }
    if (filter.assigned_agent_id) {
      where.push("assigned_agent_id = ?");
      args.push(filter.assigned_agent_id);
    }
    const clause = where.length > 0 ? `WHERE ${where.join(" AND ")}` : "";
    const rows = this.db.prepare(`SELECT * FROM jobs ${clause} ORDER BY seq DESC`).all(...args);
    return this.parseRows("jobs", JobRow, rows);
  }

  updateJob(jobId: string, patch: Partial<JobDoc>): boolean {
    return this.update("jobs", jobId, patch);
  }

  /** Deletes the job; its bids go with it (foreign key cascade). */
  deleteJob(jobId: string): boolean {
    return this.remove("jobs", jobId);
  }

  /** Deletes every job (bids and files go with them); returns how many there were. */
  deleteAllJobs(): number {
    return Number(this.db.prepare("DELETE FROM jobs").run().changes);
  }

  // --- bids ---

  insertBid(doc: BidDoc): void {
    this.insert("bids", doc);
  }

  getBid(bidId: string): BidDoc | null {
    const row = this.db.prepare("SELECT * FROM bids WHERE bid_id = ?").get(bidId);
    return row ? BidRow.parse(row) : null;
  }

  /** A job's bids in the order they were placed. */
  listBids(jobId: string): BidDoc[] {
    const rows = this.db.prepare("SELECT * FROM bids WHERE job_id = ? ORDER BY seq").all(jobId);
    return this.parseRows("bids", BidRow, rows);
  }

  /** Every bid awaiting the poster's approval, in the order placed. */
  bidsAwaitingApproval(): BidDoc[] {
    const rows = this.db
      .prepare("SELECT * FROM bids WHERE status = 'awaiting_approval' ORDER BY seq")
      .all();
    return this.parseRows("bids", BidRow, rows);
  }

  /**
   * The stale-agent sweep's cancellation (db.py `cancel_pending_bids_by_agent`): every
   * `pending` bid of the agent becomes `cancelled` with reason `agent_offline`.
   */
  cancelPendingBids(agentId: string): number {
    const res = this.db
      .prepare(
        "UPDATE bids SET status = 'cancelled', cancelled_reason = 'agent_offline' WHERE agent_id = ? AND status = 'pending'",
      )
      .run(agentId);
    return Number(res.changes);
  }

  updateBid(bidId: string, patch: Partial<BidDoc>): boolean {
    return this.update("bids", bidId, patch);
  }

  // --- registration cooldown ---

  getLastRegistration(ownerId: string): string | null {
    const row = this.db
      .prepare("SELECT registered_at FROM registration_cooldowns WHERE owner_id = ?")
      .get(ownerId);
    return typeof row?.registered_at === "string" ? row.registered_at : null;
  }

  setLastRegistration(ownerId: string, at: string): void {
    this.db
      .prepare(
        `INSERT INTO registration_cooldowns (owner_id, registered_at) VALUES (?, ?)
         ON CONFLICT (owner_id) DO UPDATE SET registered_at = excluded.registered_at`,
      )
      .run(ownerId, at);
  }
}
