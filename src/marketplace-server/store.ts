import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { DatabaseSync, type SQLInputValue } from "node:sqlite";
import { z } from "zod";
import { migrate } from "./migrations.ts";

/**
 * Persistence of the embedded marketplace: agents, jobs and bids in one SQLite file
 * (WAL mode). Rows are checked with zod on the way out; JSON-valued fields are stored
 * as JSON text. Business rules live in rules.ts, not here.
 */

const jsonText = <T extends z.ZodType>(schema: T) =>
  z.string().transform((text, ctx): z.output<T> => {
    const parsed = schema.safeParse(JSON.parse(text));
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

const JobResultSchema = z.object({
  success: z.boolean(),
  output: z.string(),
  tokens_used: z.number(),
  model: z.string(),
  executed_by: z.string(),
  submitted_at: z.string(),
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
});
export type BidDoc = z.output<typeof BidRow>;

const JSON_COLUMNS = new Set([
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
  throw new Error(`cannot store ${typeof value} in column ${column}`);
}

/** Filters of the job listing; both optional, as on the real service. */
export interface JobFilter {
  status?: string | null;
  assigned_agent_id?: string | null;
}

export class MarketplaceStore {
  readonly db: DatabaseSync;
  readonly schemaVersion: number;

  constructor(dbPath: string) {
    // A fresh machine has no state directory yet.
    if (dbPath !== ":memory:") mkdirSync(dirname(dbPath), { recursive: true });
    this.db = new DatabaseSync(dbPath, { enableForeignKeyConstraints: true, timeout: 5000 });
    if (dbPath !== ":memory:") this.db.exec("PRAGMA journal_mode = WAL");
    try {
      this.db.exec("PRAGMA synchronous = NORMAL");
      this.schemaVersion = migrate(this.db);
    } catch (err) {
      this.db.close();
      throw err;
    }
  }

  /** Runs `fn` in one transaction (joined, if one is already open). */
  transaction<T>(fn: () => T): T {
    if (this.db.isTransaction) return fn();
    this.db.exec("BEGIN IMMEDIATE");
    try {
      const result = fn();
      this.db.exec("COMMIT");
      return result;
    } catch (err) {
      this.db.exec("ROLLBACK");
      throw err;
    }
  }

  close(): void {
    if (this.db.isOpen) this.db.close();
  }

  // --- generic row helpers ---

  private insert(table: Table, doc: Record<string, unknown>): void {
    const cols = COLUMNS[table];
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
    return new Map(rows.map((r) => AgentRow.parse(r)).map((a) => [a.agent_id, a]));
  }

  listAgents(): AgentDoc[] {
    return this.db
      .prepare("SELECT * FROM agents ORDER BY seq")
      .all()
      .map((r) => AgentRow.parse(r));
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

  /** Every matching job, newest first. */
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
    return this.db
      .prepare(`SELECT * FROM jobs ${clause} ORDER BY seq DESC`)
      .all(...args)
      .map((r) => JobRow.parse(r));
  }

  updateJob(jobId: string, patch: Partial<JobDoc>): boolean {
    return this.update("jobs", jobId, patch);
  }

  /** Deletes the job; its bids go with it (foreign key cascade). */
  deleteJob(jobId: string): boolean {
    return this.remove("jobs", jobId);
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
    return this.db
      .prepare("SELECT * FROM bids WHERE job_id = ? ORDER BY seq")
      .all(jobId)
      .map((r) => BidRow.parse(r));
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
