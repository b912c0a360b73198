import type { DatabaseSync, SQLInputValue, StatementSync } from "node:sqlite";
import { z } from "zod";
import { openSqlite, transaction } from "../sqlite.ts";
import {
  addBidder,
  checkBids,
  checkDay,
  checkEpochMs,
  checkKey,
  checkName,
  checkPrice,
  checkUsd,
  cleanOfferAnswer,
  cleanResult,
  clip,
  instrument,
  type LedgerBackend,
  type LedgerCommonOptions,
  ledgerResultSchema,
  offerAnswerSchema,
  stampEach,
  totalsOf,
} from "./common.ts";
import { checkEpoch, StaleEpochError } from "./fence.ts";
import {
  checkOutcomeLimit,
  cleanOutcomePatch,
  DEFAULT_OUTCOME_LIMIT,
  type JobOutcome,
  type JobOutcomePatch,
  jobOutcomeSchema,
} from "./outcomes.ts";
import { checkEarned, cleanPayment, paymentSchema } from "./payments.ts";
import type {
  AgentTotals,
  BidRecord,
  EarnedSeen,
  JobStamp,
  Ledger,
  LedgerEntry,
  LedgerResult,
  LedgerSummary,
  OfferAnswer,
  PaidTotals,
  PaymentRecord,
} from "./types.ts";

export interface SqliteLedgerOptions extends LedgerCommonOptions {
  /** Database file (its directory is created if missing), or ":memory:". */
  path: string;
  /** How long a write waits for another connection's lock, in ms. */
  busyTimeoutMs?: number;
}

/**
 * Schema migrations, applied in order; `PRAGMA user_version` is how many have run.
 * Append only: never edit a migration that has shipped.
 */
const MIGRATIONS: readonly string[] = [
  `CREATE TABLE ledger (
     agent_id             TEXT    NOT NULL,
     job_id               TEXT    NOT NULL,
     bid_id               TEXT,
     bid_price_usd        REAL,
     bid_at               TEXT,
     won_at               TEXT,
     execution_started_at TEXT,
     execution_attempts   INTEGER NOT NULL DEFAULT 0,
     result_json          TEXT,
     result_at            TEXT,
     accepted_at          TEXT,
     closed_reason        TEXT,
     closed_at            TEXT,
     submit_attempts      INTEGER NOT NULL DEFAULT 0,
     last_submit_error    TEXT,
     next_submit_at       INTEGER,
     updated_at           TEXT    NOT NULL,
     PRIMARY KEY (agent_id, job_id)
   ) STRICT;
   CREATE INDEX ledger_pending ON ledger (result_at, agent_id, job_id)
     WHERE result_at IS NOT NULL AND accepted_at IS NULL AND closed_at IS NULL;`,
  // 2 (issue 10): wallet indexes, daily LLM spend, answered counter-offers, once-only notes.
  `CREATE TABLE wallet_indexes (
     agent_key    TEXT    PRIMARY KEY,
     wallet_index INTEGER NOT NULL UNIQUE,
     created_at   TEXT    NOT NULL
   ) STRICT;
   CREATE TABLE daily_spend (
     day   TEXT NOT NULL,
     agent TEXT NOT NULL,
     usd   REAL NOT NULL,
     PRIMARY KEY (day, agent)
   ) STRICT;
   CREATE TABLE offer_answers (
     bid_id      TEXT    NOT NULL,
     offer_index INTEGER NOT NULL,
     agent_id    TEXT    NOT NULL,
     job_id      TEXT    NOT NULL,
     action      TEXT    NOT NULL,
     price_usd   REAL,
     reason      TEXT    NOT NULL,
     answered_at TEXT    NOT NULL,
     PRIMARY KEY (bid_id, offer_index)
   ) STRICT;
   CREATE TABLE once_notes (
     key TEXT PRIMARY KEY,
     at  TEXT NOT NULL
   ) STRICT;`,
  // 3 (issue 11), fencing: each entry's last lease epoch, and each agent's highest epoch.
  `ALTER TABLE ledger ADD COLUMN epoch INTEGER;
   CREATE TABLE fences (agent_id TEXT PRIMARY KEY, epoch INTEGER NOT NULL) STRICT;`,
  // 4 (issue 22): stakes given up on (a bid lost, rejected or cancelled; the job closed),
  // and the open stakes the runner looks up when no listing shows their job.
  `ALTER TABLE ledger ADD COLUMN stake_ended_at TEXT;
   ALTER TABLE ledger ADD COLUMN stake_ended_reason TEXT;
   CREATE INDEX ledger_open_stakes ON ledger (job_id)
     WHERE result_at IS NULL AND stake_ended_at IS NULL AND (bid_at IS NOT NULL OR won_at IS NOT NULL);`,
  // 5 (issue 22): what each job's sign-off paid, and each agent's total_earned_usd as
  // last accounted for (see runner/payment-reader.ts).
  `CREATE TABLE payments (
     job_id        TEXT PRIMARY KEY,
     agent_id      TEXT NOT NULL,
     amount_usd    REAL NOT NULL,
     outcome       TEXT NOT NULL,
     quality_score REAL,
     recorded_at   TEXT NOT NULL
   ) STRICT;
   CREATE INDEX payments_agent ON payments (agent_id);
   CREATE TABLE earned_seen (
     agent_id   TEXT PRIMARY KEY,
     usd        REAL NOT NULL,
     since      TEXT NOT NULL,
     updated_at TEXT NOT NULL
   ) STRICT;`,
  // 6 (issue 25): what each priced bid brought, one merged record per (agent, job).
  `CREATE TABLE outcomes (
     agent_id   TEXT NOT NULL,
     job_id     TEXT NOT NULL,
     bid_at     TEXT,
     record     TEXT NOT NULL,
     updated_at TEXT NOT NULL,
     PRIMARY KEY (agent_id, job_id)
   ) STRICT;
   CREATE INDEX outcomes_newest ON outcomes (agent_id, bid_at DESC);`,
];

/** Accepted, and a successful result (not a failure report). */
const SUCCEEDED_WHERE = "accepted_at IS NOT NULL AND json_extract(result_json, '$.success') = 1";
const PENDING_WHERE = "result_at IS NOT NULL AND accepted_at IS NULL AND closed_at IS NULL";
/** A bid the runner has not given up on. */
const LIVE_BID_WHERE = "bid_at IS NOT NULL AND stake_ended_at IS NULL";
const OPEN_STAKE_WHERE =
  "result_at IS NULL AND stake_ended_at IS NULL AND (bid_at IS NOT NULL OR won_at IS NOT NULL)";

const rowSchema = z.object({
  agent_id: z.string(),
  job_id: z.string(),
  bid_id: z.string().nullable(),
  bid_price_usd: z.number().nullable(),
  bid_at: z.string().nullable(),
  won_at: z.string().nullable(),
  execution_started_at: z.string().nullable(),
  execution_attempts: z.number().int(),
  result_json: z.string().nullable(),
  result_at: z.string().nullable(),
  accepted_at: z.string().nullable(),
  closed_reason: z.string().nullable(),
  closed_at: z.string().nullable(),
  submit_attempts: z.number().int(),
  last_submit_error: z.string().nullable(),
  next_submit_at: z.number().int().nullable(),
  epoch: z.number().int().nullable(),
  stake_ended_at: z.string().nullable(),
  stake_ended_reason: z.string().nullable(),
  updated_at: z.string(),
});

function toPayment(raw: unknown): PaymentRecord {
  const row = z
    .object({
      job_id: z.string(),
      agent_id: z.string(),
      amount_usd: z.number(),
      outcome: z.string(),
      quality_score: z.number().nullable(),
      recorded_at: z.string(),
    })
    .parse(raw);
  return paymentSchema.parse({
    jobId: row.job_id,
    agentId: row.agent_id,
    amountUsd: row.amount_usd,
    outcome: row.outcome,
    qualityScore: row.quality_score,
    recordedAt: row.recorded_at,
  });
}

function toEntry(raw: unknown): LedgerEntry {
  const row = rowSchema.parse(raw);
  const entry: LedgerEntry = {
    agentId: row.agent_id,
    jobId: row.job_id,
    executionAttempts: row.execution_attempts,
    submitAttempts: row.submit_attempts,
    updatedAt: row.updated_at,
  };
  if (row.bid_id !== null) entry.bidId = row.bid_id;
  if (row.bid_price_usd !== null) entry.bidPriceUsd = row.bid_price_usd;
  if (row.bid_at !== null) entry.bidAt = row.bid_at;
  if (row.won_at !== null) entry.wonAt = row.won_at;
  if (row.execution_started_at !== null) entry.executionStartedAt = row.execution_started_at;
  if (row.result_json !== null)
    entry.result = ledgerResultSchema.parse(JSON.parse(row.result_json));
  if (row.result_at !== null) entry.resultAt = row.result_at;
  if (row.accepted_at !== null) entry.acceptedAt = row.accepted_at;
  if (row.closed_reason !== null) entry.closedReason = row.closed_reason;
  if (row.closed_at !== null) entry.closedAt = row.closed_at;
  if (row.last_submit_error !== null) entry.lastSubmitError = row.last_submit_error;
  if (row.next_submit_at !== null) entry.nextSubmitAt = row.next_submit_at;
  if (row.epoch !== null) entry.epoch = row.epoch;
  if (row.stake_ended_at !== null) entry.stakeEndedAt = row.stake_ended_at;
  if (row.stake_ended_reason !== null) entry.stakeEndedReason = row.stake_ended_reason;
  return entry;
}

/** Opens the ledger in a node:sqlite file (or ":memory:"), its writes counted and logged. */
export function openSqliteLedger(options: SqliteLedgerOptions): Ledger {
  return instrument(new SqliteLedger(options), options);
}

/**
 * The ledger in a node:sqlite file. WAL mode so readers never block the writer, and
 * `synchronous=FULL` so that a write is on disk (WAL fsynced) when its promise resolves:
 * a result must survive a power cut between being written and being submitted. Each
 * method keeps the rule its Ledger interface states (types.ts).
 */
export class SqliteLedger implements LedgerBackend {
  readonly backend = "sqlite";
  readonly #db: DatabaseSync;
  readonly #clock: () => number;
  readonly #statements = new Map<string, StatementSync>();

  constructor(options: SqliteLedgerOptions) {
    this.#clock = options.now ?? Date.now;
    const { db, journalMode } = openSqlite({
      name: "ledger",
      path: options.path,
      migrations: MIGRATIONS,
      synchronous: "FULL",
      busyTimeoutMs: options.busyTimeoutMs,
    });
    if (options.path !== ":memory:" && journalMode !== "wal") {
      // Still correct (synchronous=FULL), only slower and readers may wait: say so.
      options.logger?.warn({ journalMode }, "ledger: sqlite refused WAL mode");
    }
    this.#db = db;
  }

  /** A prepared statement, prepared once per SQL text. */
  #stmt(sql: string): StatementSync {
    let statement = this.#statements.get(sql);
    if (!statement) {
      statement = this.#db.prepare(sql);
      this.#statements.set(sql, statement);
    }
    return statement;
  }

  #iso(): string {
    return new Date(this.#clock()).toISOString();
  }

  /** Runs `body` in one IMMEDIATE transaction (the write lock first, so no reader goes stale). */
  #transaction<T>(body: () => T): T {
    return transaction(this.#db, body);
  }

  /**
   * Inserts the row with `values` or, when it exists, applies `onConflict`; with `returning`,
   * returns those columns of the row's new state. Column names come from this file only.
   */
  #upsert(
    agentId: string,
    jobId: string,
    values: (now: string) => Record<string, SQLInputValue>,
    onConflict: string,
    returning = "",
  ): Record<string, unknown> | undefined {
    checkKey(agentId, jobId);
    const now = this.#iso(); // one clock reading per write: every timestamp of it agrees
    const columns = values(now);
    const names = Object.keys(columns);
    const sql =
      `INSERT INTO ledger (agent_id, job_id, updated_at${names.map((n) => `, ${n}`).join("")})
       VALUES (:agent_id, :job_id, :now${names.map((n) => `, :${n}`).join("")})
       ON CONFLICT (agent_id, job_id) DO UPDATE SET ${onConflict}, updated_at = excluded.updated_at` +
      (returning ? ` RETURNING ${returning}` : "");
    const params = { agent_id: agentId, job_id: jobId, now, ...columns };
    if (returning) return this.#stmt(sql).get(params);
    this.#stmt(sql).run(params);
    return undefined;
  }

  #writeBid(agentId: string, jobId: string, bid: { bidId: string; priceUsd: number }): void {
    this.#upsert(
      agentId,
      jobId,
      (now) => ({ bid_id: bid.bidId, bid_price_usd: bid.priceUsd, bid_at: now }),
      // A new bid opens a stake ended before (a cancelled bid) again.
      "bid_id = excluded.bid_id, bid_price_usd = excluded.bid_price_usd, bid_at = excluded.bid_at, stake_ended_at = NULL, stake_ended_reason = NULL",
    );
  }

  /** Runs `write` only while no newer epoch exists, then stamps the entry; one transaction. */
  #fenced<T>(agentId: string, jobId: string, epoch: number | undefined, write: () => T): T {
    checkEpoch(epoch);
    if (epoch === undefined) return write();
    return this.#transaction(() => this.#fencedWrite(agentId, jobId, epoch, write));
  }

  /** The fence check, the write and the epoch stamp, inside the caller's transaction. */
  #fencedWrite<T>(agentId: string, jobId: string, epoch: number, write: () => T): T {
    const newest =
      z.object({ n: z.number().nullable() }).parse(
        this.#stmt(
          `SELECT max(coalesce((SELECT epoch FROM fences WHERE agent_id = :a), 0),
                        coalesce((SELECT epoch FROM ledger WHERE agent_id = :a AND job_id = :j), 0)) AS n`,
        ).get({ a: agentId, j: jobId }),
      ).n ?? 0;
    if (newest > epoch) throw new StaleEpochError(agentId, epoch, newest);
    const value = write();
    this.#stmt("UPDATE ledger SET epoch = ? WHERE agent_id = ? AND job_id = ?").run(
      epoch,
      agentId,
      jobId,
    );
    return value;
  }

  #count(where: string): number {
    return z
      .object({ n: z.number() })
      .parse(this.#stmt(`SELECT count(*) AS n FROM ledger WHERE ${where}`).get()).n;
  }

  async hasBid(agentId: string, jobId: string): Promise<boolean> {
    return (
      this.#stmt(
        `SELECT 1 AS x FROM ledger WHERE agent_id = ? AND job_id = ? AND ${LIVE_BID_WHERE}`,
      ).get(agentId, jobId) !== undefined
    );
  }

  async recordBid(
    agentId: string,
    jobId: string,
    bid: { bidId: string; priceUsd: number },
    epoch?: number,
  ): Promise<void> {
    checkPrice(bid.priceUsd);
    this.#fenced(agentId, jobId, epoch, () => this.#writeBid(agentId, jobId, bid));
  }

  async recordBids(bids: readonly BidRecord[]): Promise<void> {
    checkBids(bids);
    if (bids.length === 0) return;
    // One transaction: one fsync for the round instead of one per bid, and one stale
    // entry (StaleEpochError) rolls back the others.
    this.#transaction(() => {
      for (const bid of bids) {
        const write = () => this.#writeBid(bid.agentId, bid.jobId, bid);
        if (bid.epoch === undefined) write();
        else this.#fencedWrite(bid.agentId, bid.jobId, bid.epoch, write);
      }
    });
  }

  async bidsOn(jobIds: readonly string[]): Promise<Map<string, Set<string>>> {
    const found = new Map<string, Set<string>>();
    const pair = z.object({ job_id: z.string(), agent_id: z.string() });
    // In chunks, well under SQLite's limit of bound parameters.
    for (let i = 0; i < jobIds.length; i += 500) {
      const chunk = jobIds.slice(i, i + 500);
      const rows = this.#db
        .prepare(
          `SELECT job_id, agent_id FROM ledger WHERE ${LIVE_BID_WHERE} AND job_id IN (${chunk.map(() => "?").join(", ")})`,
        )
        .all(...chunk);
      for (const row of rows) {
        const { job_id, agent_id } = pair.parse(row);
        addBidder(found, job_id, agent_id);
      }
    }
    return found;
  }

  async openStakes(): Promise<LedgerEntry[]> {
    return this.#stmt(`SELECT * FROM ledger WHERE ${OPEN_STAKE_WHERE}`).all().map(toEntry);
  }

  async endStake(agentId: string, jobId: string, reason: string, bidId?: string): Promise<boolean> {
    checkKey(agentId, jobId);
    const now = this.#iso();
    const res = this.#stmt(
      `UPDATE ledger SET stake_ended_at = :now, stake_ended_reason = :reason, updated_at = :now
       WHERE agent_id = :agent_id AND job_id = :job_id AND stake_ended_at IS NULL
         -- only for the bid named, or one of unknown id (StakeStore.endStake)
         AND (:bid_id IS NULL OR bid_id IS NULL OR bid_id = 'unknown' OR bid_id = :bid_id)`,
    ).run({ now, reason: clip(reason), agent_id: agentId, job_id: jobId, bid_id: bidId ?? null });
    return Number(res.changes) > 0;
  }

  async recordWon(agentId: string, jobId: string, epoch?: number): Promise<void> {
    this.#fenced(agentId, jobId, epoch, () =>
      this.#upsert(
        agentId,
        jobId,
        (now) => ({ won_at: now }),
        // The first time seen won is kept (ExecutionStore.recordWon).
        "won_at = coalesce(won_at, excluded.won_at)",
      ),
    );
  }

  async startExecution(agentId: string, jobId: string, epoch?: number): Promise<number> {
    // One statement: the increment and the read cannot be split by another writer.
    const row = this.#fenced(agentId, jobId, epoch, () =>
      this.#upsert(
        agentId,
        jobId,
        (now) => ({ execution_started_at: now, execution_attempts: 1 }),
        "execution_attempts = execution_attempts + 1, execution_started_at = excluded.execution_started_at",
        "execution_attempts",
      ),
    );
    return z.object({ execution_attempts: z.number() }).parse(row).execution_attempts;
  }

  async recordResult(
    agentId: string,
    jobId: string,
    result: LedgerResult,
    epoch?: number,
  ): Promise<void> {
    this.#fenced(agentId, jobId, epoch, () =>
      this.#upsert(
        agentId,
        jobId,
        (now) => ({ result_json: JSON.stringify(cleanResult(result)), result_at: now }),
        "result_json = excluded.result_json, result_at = excluded.result_at",
      ),
    );
  }

  async fenceJobs(stamps: readonly JobStamp[]): Promise<(StaleEpochError | undefined)[]> {
    return this.#transaction(() =>
      stampEach(stamps, ({ agentId, jobId, epoch }) =>
        this.#fencedWrite(agentId, jobId, epoch, () =>
          this.#upsert(agentId, jobId, () => ({}), "agent_id = excluded.agent_id"),
        ),
      ),
    );
  }

  async raiseFence(agentId: string, epoch: number): Promise<void> {
    checkEpoch(epoch);
    this.#transaction(() => {
      const current =
        z
          .object({ epoch: z.number() })
          .optional()
          .parse(this.#stmt("SELECT epoch FROM fences WHERE agent_id = ?").get(agentId))?.epoch ??
        0;
      if (current > epoch) throw new StaleEpochError(agentId, epoch, current);
      this.#stmt(
        "INSERT INTO fences (agent_id, epoch) VALUES (?, ?) ON CONFLICT (agent_id) DO UPDATE SET epoch = excluded.epoch",
      ).run(agentId, epoch);
      this.#stmt(
        "UPDATE ledger SET epoch = ? WHERE agent_id = ? AND accepted_at IS NULL AND closed_at IS NULL AND coalesce(epoch, 0) < ?",
      ).run(epoch, agentId, epoch);
    });
  }

  async markAccepted(agentId: string, jobId: string): Promise<void> {
    this.#upsert(
      agentId,
      jobId,
      (now) => ({ accepted_at: now }),
      // The first acceptance is kept (ExecutionStore.markAccepted).
      "accepted_at = coalesce(accepted_at, excluded.accepted_at)",
    );
  }

  async closeResult(agentId: string, jobId: string, reason: string): Promise<void> {
    this.#upsert(
      agentId,
      jobId,
      (now) => ({ closed_reason: clip(reason), closed_at: now }),
      "closed_reason = excluded.closed_reason, closed_at = excluded.closed_at",
    );
  }

  async recordSubmitFailure(
    agentId: string,
    jobId: string,
    error: string,
    nextSubmitAt: number,
  ): Promise<void> {
    checkEpochMs(nextSubmitAt);
    this.#upsert(
      agentId,
      jobId,
      () => ({
        submit_attempts: 1,
        last_submit_error: clip(error),
        next_submit_at: nextSubmitAt,
      }),
      "submit_attempts = submit_attempts + 1, last_submit_error = excluded.last_submit_error, next_submit_at = excluded.next_submit_at",
    );
  }

  async get(agentId: string, jobId: string): Promise<LedgerEntry | undefined> {
    const row = this.#stmt("SELECT * FROM ledger WHERE agent_id = ? AND job_id = ?").get(
      agentId,
      jobId,
    );
    return row === undefined ? undefined : toEntry(row);
  }

  async agentTotals(agentId: string): Promise<AgentTotals> {
    return totalsOf(
      this.#stmt("SELECT * FROM ledger WHERE agent_id = ?").all(agentId).map(toEntry),
    );
  }

  async pendingResults(agentId?: string): Promise<LedgerEntry[]> {
    const rows =
      agentId === undefined
        ? this.#stmt(
            `SELECT * FROM ledger WHERE ${PENDING_WHERE} ORDER BY result_at, agent_id, job_id`,
          ).all()
        : this.#stmt(
            `SELECT * FROM ledger WHERE ${PENDING_WHERE} AND agent_id = ? ORDER BY result_at, agent_id, job_id`,
          ).all(agentId);
    return rows.map(toEntry);
  }

  async pendingCount(): Promise<number> {
    return this.#count(PENDING_WHERE);
  }

  async walletIndex(agentKey: string): Promise<number> {
    checkName("agentKey", agentKey);
    // One statement: the next free index is read and taken under the write lock.
    this.#stmt(
      `INSERT INTO wallet_indexes (agent_key, wallet_index, created_at)
       SELECT ?, coalesce(max(wallet_index) + 1, 0), ? FROM wallet_indexes WHERE true
       ON CONFLICT (agent_key) DO NOTHING`,
    ).run(agentKey, this.#iso());
    return z
      .object({ wallet_index: z.number().int() })
      .parse(
        this.#stmt("SELECT wallet_index FROM wallet_indexes WHERE agent_key = ?").get(agentKey),
      ).wallet_index;
  }

  async addSpend(day: string, agent: string, usd: number): Promise<void> {
    checkDay(day);
    checkName("agent", agent);
    checkUsd(usd);
    this.#stmt(
      `INSERT INTO daily_spend (day, agent, usd) VALUES (?, ?, ?)
       ON CONFLICT (day, agent) DO UPDATE SET usd = usd + excluded.usd`,
    ).run(day, agent, usd);
  }

  async spendOn(day: string, agent?: string): Promise<number> {
    const row =
      agent === undefined
        ? this.#stmt("SELECT sum(usd) AS usd FROM daily_spend WHERE day = ?").get(day)
        : this.#stmt("SELECT sum(usd) AS usd FROM daily_spend WHERE day = ? AND agent = ?").get(
            day,
            agent,
          );
    return z.object({ usd: z.number().nullable() }).parse(row).usd ?? 0;
  }

  async recordOfferAnswer(answer: OfferAnswer): Promise<boolean> {
    const a = cleanOfferAnswer(answer);
    const res = this.#stmt(
      `INSERT INTO offer_answers (bid_id, offer_index, agent_id, job_id, action, price_usd, reason, answered_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (bid_id, offer_index) DO NOTHING`,
    ).run(
      a.bidId,
      a.offerIndex,
      a.agentId,
      a.jobId,
      a.action,
      a.priceUsd ?? null,
      a.reason,
      this.#iso(),
    );
    return Number(res.changes) > 0;
  }

  async offerAnswer(bidId: string, offerIndex: number): Promise<OfferAnswer | undefined> {
    const row = this.#stmt("SELECT * FROM offer_answers WHERE bid_id = ? AND offer_index = ?").get(
      bidId,
      offerIndex,
    );
    if (row === undefined) return undefined;
    const r = z
      .object({
        bid_id: z.string(),
        offer_index: z.number(),
        agent_id: z.string(),
        job_id: z.string(),
        action: z.string(),
        price_usd: z.number().nullable(),
        reason: z.string(),
        answered_at: z.string(),
      })
      .parse(row);
    return offerAnswerSchema.parse({
      agentId: r.agent_id,
      jobId: r.job_id,
      bidId: r.bid_id,
      offerIndex: r.offer_index,
      action: r.action,
      ...(r.price_usd !== null ? { priceUsd: r.price_usd } : {}),
      reason: r.reason,
      answeredAt: r.answered_at,
    });
  }

  async noteOnce(key: string): Promise<boolean> {
    checkName("key", key);
    const res = this.#stmt(
      "INSERT INTO once_notes (key, at) VALUES (?, ?) ON CONFLICT (key) DO NOTHING",
    ).run(key, this.#iso());
    return Number(res.changes) > 0;
  }

  async recordPayment(payment: PaymentRecord): Promise<boolean> {
    const p = cleanPayment(payment);
    const res = this.#stmt(
      `INSERT INTO payments (job_id, agent_id, amount_usd, outcome, quality_score, recorded_at)
       VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (job_id) DO NOTHING`,
    ).run(p.jobId, p.agentId, p.amountUsd, p.outcome, p.qualityScore, this.#iso());
    return Number(res.changes) > 0;
  }

  async payment(jobId: string): Promise<PaymentRecord | undefined> {
    const row = this.#stmt("SELECT * FROM payments WHERE job_id = ?").get(jobId);
    return row === undefined ? undefined : toPayment(row);
  }

  async paidTotals(agentId: string): Promise<PaidTotals> {
    const row = z
      .object({ jobs: z.number(), paid: z.number().nullable() })
      .parse(
        this.#stmt(
          "SELECT count(*) AS jobs, sum(amount_usd) AS paid FROM payments WHERE agent_id = ?",
        ).get(agentId),
      );
    return { jobs: row.jobs, paidUsd: row.paid ?? 0 };
  }

  async unpaidResults(agentId: string): Promise<LedgerEntry[]> {
    return this.#stmt(
      `SELECT ledger.* FROM ledger LEFT JOIN payments ON payments.job_id = ledger.job_id
       WHERE ledger.agent_id = ? AND ${SUCCEEDED_WHERE} AND payments.job_id IS NULL
       ORDER BY ledger.accepted_at, ledger.job_id`,
    )
      .all(agentId)
      .map(toEntry);
  }

  async earnedSeen(agentId: string): Promise<EarnedSeen | undefined> {
    const row = this.#stmt("SELECT usd, since FROM earned_seen WHERE agent_id = ?").get(agentId);
    return row === undefined
      ? undefined
      : z.object({ usd: z.number(), since: z.string() }).parse(row);
  }

  async setEarnedSeen(agentId: string, usd: number): Promise<void> {
    checkEarned(agentId, usd);
    const now = this.#iso();
    this.#stmt(
      `INSERT INTO earned_seen (agent_id, usd, since, updated_at) VALUES (?, ?, ?, ?)
       ON CONFLICT (agent_id) DO UPDATE SET usd = excluded.usd, updated_at = excluded.updated_at`,
    ).run(agentId, usd, now, now);
  }

  async noteOutcome(agentId: string, jobId: string, patch: JobOutcomePatch): Promise<void> {
    checkKey(agentId, jobId);
    const clean = cleanOutcomePatch(patch);
    // Read, merge and write under the write lock: no other writer's fields are lost.
    this.#transaction(() => {
      const stored = this.#stmt(
        "SELECT record FROM outcomes WHERE agent_id = ? AND job_id = ?",
      ).get(agentId, jobId);
      const record = {
        ...(stored === undefined
          ? {}
          : JSON.parse(z.object({ record: z.string() }).parse(stored).record)),
        ...clean,
      };
      this.#stmt(
        `INSERT INTO outcomes (agent_id, job_id, bid_at, record, updated_at) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (agent_id, job_id) DO UPDATE SET bid_at = excluded.bid_at,
           record = excluded.record, updated_at = excluded.updated_at`,
      ).run(agentId, jobId, record.bidAt ?? null, JSON.stringify(record), this.#iso());
    });
  }

  async outcomes(agentId: string, limit = DEFAULT_OUTCOME_LIMIT): Promise<JobOutcome[]> {
    checkOutcomeLimit(limit);
    const row = z.object({ job_id: z.string(), record: z.string(), updated_at: z.string() });
    return this.#stmt(
      `SELECT job_id, record, updated_at FROM outcomes WHERE agent_id = ?
       ORDER BY bid_at DESC NULLS LAST, job_id LIMIT ?`,
    )
      .all(agentId, limit)
      .map((raw): JobOutcome => {
        const r = row.parse(raw);
        return jobOutcomeSchema.parse({
          ...JSON.parse(r.record),
          agentId,
          jobId: r.job_id,
          updatedAt: r.updated_at,
        });
      });
  }

  async summary(): Promise<LedgerSummary> {
    const row = z
      .object({
        entries: z.number(),
        bids: z.number().nullable(),
        won: z.number().nullable(),
        pending: z.number().nullable(),
        accepted: z.number().nullable(),
        failed: z.number().nullable(),
        closed: z.number().nullable(),
      })
      .parse(
        this.#stmt(
          `SELECT count(*) AS entries,
                  sum(bid_at IS NOT NULL) AS bids,
                  sum(won_at IS NOT NULL) AS won,
                  sum(${PENDING_WHERE}) AS pending,
                  sum(${SUCCEEDED_WHERE}) AS accepted,
                  sum(closed_at IS NOT NULL OR (accepted_at IS NOT NULL AND NOT (${SUCCEEDED_WHERE}))) AS failed,
                  sum(closed_at IS NOT NULL) AS closed
           FROM ledger`,
        ).get(),
      );
    return {
      backend: "sqlite",
      entries: row.entries,
      bids: row.bids ?? 0,
      won: row.won ?? 0,
      pendingResults: row.pending ?? 0,
      accepted: row.accepted ?? 0,
      failed: row.failed ?? 0,
      closed: row.closed ?? 0,
    };
  }

  async close(): Promise<void> {
    if (this.#db.isOpen) this.#db.close();
  }
}
