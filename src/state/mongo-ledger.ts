import {
  type AnyBulkWriteOperation,
  type Collection,
  type Document,
  MongoBulkWriteError,
  type MongoClient,
  MongoServerError,
  type OptionalUnlessRequiredId,
  type UpdateFilter,
  type WriteConcernSettings,
} from "mongodb";
import { z } from "zod";
import { BazaarRunnerError } from "../errors.ts";
import { SelfClockedBatch } from "../self-clocked.ts";
import {
  addBidder,
  checkBids,
  checkDay,
  checkEpochMs,
  checkKey,
  checkName,
  checkPrice,
  checkStamps,
  checkUsd,
  cleanOfferAnswer,
  cleanResult,
  clip,
  instrument,
  type LedgerBackend,
  type LedgerCommonOptions,
  ledgerResultSchema,
  offerAnswerSchema,
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

export interface MongoLedgerOptions extends LedgerCommonOptions {
  /** Owned by the runner: the ledger never closes it. */
  client: MongoClient;
  dbName?: string;
  collection?: string;
  /** Per-agent fences (highest lease epoch): `runner_fences`. */
  fenceCollection?: string;
}

/** One document per (agent, job); field names are snake_case like the marketplace's. */
interface LedgerDoc extends Document {
  agent_id: string;
  job_id: string;
  bid_id?: string;
  bid_price_usd?: number;
  bid_at?: Date | null;
  won_at?: Date | null;
  execution_started_at?: Date | null;
  execution_attempts?: number;
  result?: { success: boolean; output: string; tokens_used: number; model: string; error?: string };
  result_at?: Date | null;
  accepted_at?: Date | null;
  closed_reason?: string;
  closed_at?: Date | null;
  submit_attempts?: number;
  last_submit_error?: string;
  next_submit_at?: number;
  epoch?: number;
  stake_ended_at?: Date | null;
  stake_ended_reason?: string;
  updated_at: Date;
}

interface WalletDoc extends Document {
  agent_key: string;
  wallet_index: number;
  created_at: Date;
}

interface FenceDoc extends Document {
  _id: string;
  epoch: number;
}

/** One `raiseFence` call, as its batch holds it. */
interface FenceRaise {
  agentId: string;
  epoch: number;
}

const docSchema = z.object({
  agent_id: z.string(),
  job_id: z.string(),
  bid_id: z.string().nullish(),
  bid_price_usd: z.number().nullish(),
  bid_at: z.date().nullish(),
  won_at: z.date().nullish(),
  execution_started_at: z.date().nullish(),
  execution_attempts: z.number().int().nullish(),
  result: z
    .object({
      success: z.boolean(),
      output: z.string(),
      tokens_used: z.number(),
      model: z.string(),
      error: z.string().nullish(),
    })
    .nullish(),
  result_at: z.date().nullish(),
  accepted_at: z.date().nullish(),
  closed_reason: z.string().nullish(),
  closed_at: z.date().nullish(),
  submit_attempts: z.number().int().nullish(),
  last_submit_error: z.string().nullish(),
  next_submit_at: z.number().nullish(),
  epoch: z.number().int().nullish(),
  stake_ended_at: z.date().nullish(),
  stake_ended_reason: z.string().nullish(),
  updated_at: z.date(),
});

interface PaymentDoc extends Document {
  job_id: string;
  agent_id: string;
  amount_usd: number;
  outcome: string;
  quality_score: number | null;
  recorded_at: Date;
}

function toPayment(doc: PaymentDoc): PaymentRecord {
  return paymentSchema.parse({
    jobId: doc.job_id,
    agentId: doc.agent_id,
    amountUsd: doc.amount_usd,
    outcome: doc.outcome,
    qualityScore: doc.quality_score ?? null,
    recordedAt: doc.recorded_at.toISOString(),
  });
}

function toEntry(raw: unknown): LedgerEntry {
  const doc = docSchema.parse(raw);
  const entry: LedgerEntry = {
    agentId: doc.agent_id,
    jobId: doc.job_id,
    executionAttempts: doc.execution_attempts ?? 0,
    submitAttempts: doc.submit_attempts ?? 0,
    updatedAt: doc.updated_at.toISOString(),
  };
  if (doc.bid_id != null) entry.bidId = doc.bid_id;
  if (doc.bid_price_usd != null) entry.bidPriceUsd = doc.bid_price_usd;
  if (doc.bid_at != null) entry.bidAt = doc.bid_at.toISOString();
  if (doc.won_at != null) entry.wonAt = doc.won_at.toISOString();
  if (doc.execution_started_at != null)
    entry.executionStartedAt = doc.execution_started_at.toISOString();
  if (doc.result != null) {
    const { tokens_used, error, ...rest } = doc.result;
    entry.result = ledgerResultSchema.parse({
      ...rest,
      tokensUsed: tokens_used,
      ...(error != null ? { error } : {}),
    });
  }
  if (doc.result_at != null) entry.resultAt = doc.result_at.toISOString();
  if (doc.accepted_at != null) entry.acceptedAt = doc.accepted_at.toISOString();
  if (doc.closed_reason != null) entry.closedReason = doc.closed_reason;
  if (doc.closed_at != null) entry.closedAt = doc.closed_at.toISOString();
  if (doc.last_submit_error != null) entry.lastSubmitError = doc.last_submit_error;
  if (doc.next_submit_at != null) entry.nextSubmitAt = doc.next_submit_at;
  if (doc.epoch != null) entry.epoch = doc.epoch;
  if (doc.stake_ended_at != null) entry.stakeEndedAt = doc.stake_ended_at.toISOString();
  if (doc.stake_ended_reason != null) entry.stakeEndedReason = doc.stake_ended_reason;
  return entry;
}

interface OfferDoc extends Document {
  bid_id: string;
  offer_index: number;
  agent_id: string;
  job_id: string;
  action: string;
  price_usd?: number | null;
  reason: string;
  answered_at: Date;
}

/** An outcome record: the JobOutcome fields as set, `bid_at` a date for sorting. */
interface OutcomeDoc extends Document {
  agent_id: string;
  job_id: string;
  bid_at?: Date;
  updated_at: Date;
}

/** Outcome fields are stored snake_case, like every other ledger document's. */
const snakeCase = (field: string): string => field.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
const camelCase = (field: string): string => field.replace(/_([a-z])/g, (_, c) => c.toUpperCase());

/** The counter document of wallet indexes, in `<ledger>_counters`. */
const WALLET_COUNTER = "wallet_index";

/**
 * How long a start-up call made after an agent's registration waits for the next agents'
 * (bench:startup): short beside the wait for the agent's first heartbeat, long beside the
 * registrar's pace.
 */
const AFTER_REGISTRATION = { gatherMs: 50 };

/** Every ledger write waits for the journal on a majority: a result must outlive a failover. */
const DURABLE: WriteConcernSettings = { w: "majority", journal: true };

/** Matches a missing field as well as an explicit null. */
const PENDING_FILTER = { result_at: { $ne: null }, accepted_at: null, closed_at: null };
const PENDING_SORT = { result_at: 1, agent_id: 1, job_id: 1 } as const;
/** A bid the runner has not given up on. */
const LIVE_BID_FILTER = { bid_at: { $ne: null }, stake_ended_at: null };
const OPEN_STAKE_FILTER = {
  result_at: null,
  stake_ended_at: null,
  $or: [{ bid_at: { $ne: null } }, { won_at: { $ne: null } }],
};
/** A new bid opens a stake ended before (a cancelled bid) again. */
const REOPEN = { $unset: { stake_ended_at: "", stake_ended_reason: "" } } as const;

/** Inserts `doc` durably; false (and nothing written) when its unique key is taken. */
async function insertOnce<T extends Document>(
  collection: Collection<T>,
  doc: OptionalUnlessRequiredId<T>,
): Promise<boolean> {
  try {
    await collection.insertOne(doc, { writeConcern: DURABLE });
    return true;
  } catch (err) {
    if (isDuplicate(err)) return false;
    throw err;
  }
}

function isDuplicate(err: unknown): boolean {
  return err instanceof MongoServerError && err.code === 11000;
}

/** The operations of a bulk write that failed only on duplicate keys (E11000); else undefined. */
function duplicateIndices(err: unknown): number[] | undefined {
  if (!(err instanceof MongoBulkWriteError)) return undefined;
  const errors = Array.isArray(err.writeErrors) ? err.writeErrors : [err.writeErrors];
  if (errors.length === 0 || !errors.every((e) => e.code === 11000)) return undefined;
  return errors.map((e) => e.index);
}

/**
 * Awaits an unordered bulk write: [] when it succeeded, the positions of its operations
 * when it failed only on duplicate keys; any other failure is thrown.
 */
async function duplicatesOf(write: Promise<unknown>): Promise<number[]> {
  try {
    await write;
    return [];
  } catch (err) {
    const collided = duplicateIndices(err);
    if (!collided) throw err;
    return collided;
  }
}

/** Opens the ledger in MongoDB (its indexes made, its counters seeded), writes counted and logged. */
export async function openMongoLedger(options: MongoLedgerOptions): Promise<Ledger> {
  const ledger = new MongoLedger(options);
  await ledger.prepare();
  return instrument(ledger, options);
}

/**
 * The ledger in MongoDB (`bazaar.runner_ledger` by default), beside it one collection per
 * store, named after it: `_wallets`, `_counters`, `_spend`, `_offers`, `_notes`,
 * `_payments`, `_earned`, `_outcomes`; the fences in `runner_fences`. Indexes: the unique
 * key (agent_id, job_id), and (accepted_at, closed_at, result_at) so that listing pending
 * results (equality on the two nulls, then sorted by result_at) is an index scan. Each
 * method keeps the rule its Ledger interface states (types.ts).
 */
export class MongoLedger implements LedgerBackend {
  readonly backend = "mongo";
  readonly #clock: () => number;
  readonly #entries: Collection<LedgerDoc>;
  readonly #wallets: Collection<WalletDoc>;
  /** The last wallet index handed out (`WALLET_COUNTER`). */
  readonly #counters: Collection<{ _id: string; last: number }>;
  readonly #spend: Collection<{ day: string; agent: string; usd: number }>;
  readonly #offers: Collection<OfferDoc>;
  readonly #notes: Collection<{ key: string; at: Date }>;
  /** What each job's sign-off paid, and each agent's total_earned_usd as last accounted for. */
  readonly #payments: Collection<PaymentDoc>;
  readonly #earned: Collection<{ agent_id: string; usd: number; since: Date; updated_at: Date }>;
  /** What each priced bid brought: one document per (agent, job), the patch's fields as set. */
  readonly #outcomes: Collection<OutcomeDoc>;
  readonly #fences: Collection<FenceDoc>;
  /**
   * The per-agent start-up calls, batched (self-clocked, see src/self-clocked.ts): N agents
   * starting at once cost a few commands per batch instead of a few per agent, and the
   * first answers come back after one batch, not after every agent's commands. The calls
   * made after a registration (fence, totals) come at the registrar's pace, one agent at
   * a time, so they wait a moment for company (AFTER_REGISTRATION).
   */
  readonly #walletBatch = new SelfClockedBatch((keys: string[]) => this.#walletIndexes(keys));
  readonly #fenceBatch = new SelfClockedBatch(
    (fences: FenceRaise[]) => this.#raiseFences(fences),
    AFTER_REGISTRATION,
  );
  readonly #totalsBatch = new SelfClockedBatch(
    (ids: string[]) => this.#agentTotalsOf(ids),
    AFTER_REGISTRATION,
  );
  readonly #paidBatch = new SelfClockedBatch(
    (ids: string[]) => this.#paidTotalsOf(ids),
    AFTER_REGISTRATION,
  );
  #closed = false;

  constructor(options: MongoLedgerOptions) {
    this.#clock = options.now ?? Date.now;
    const db = options.client.db(options.dbName ?? "bazaar");
    const name = options.collection ?? "runner_ledger";
    this.#entries = db.collection<LedgerDoc>(name);
    this.#wallets = db.collection<WalletDoc>(`${name}_wallets`);
    this.#counters = db.collection<{ _id: string; last: number }>(`${name}_counters`);
    this.#spend = db.collection(`${name}_spend`);
    this.#offers = db.collection<OfferDoc>(`${name}_offers`);
    this.#notes = db.collection(`${name}_notes`);
    this.#payments = db.collection<PaymentDoc>(`${name}_payments`);
    this.#earned = db.collection(`${name}_earned`);
    this.#outcomes = db.collection<OutcomeDoc>(`${name}_outcomes`);
    this.#fences = db.collection<FenceDoc>(options.fenceCollection ?? "runner_fences");
  }

  /** Makes the indexes (a no-op when they exist) and seeds the wallet-index counter. */
  async prepare(): Promise<void> {
    // Side by side: each is its own collection's, and none needs another first.
    await Promise.all([
      this.#entries.createIndexes([
        { key: { agent_id: 1, job_id: 1 }, name: "agent_job_unique", unique: true },
        { key: { accepted_at: 1, closed_at: 1, result_at: 1 }, name: "pending_results" },
        // For a round's one look-up of the bids on its jobs.
        { key: { job_id: 1 }, name: "job_bids" },
      ]),
      this.#wallets.createIndexes([
        { key: { agent_key: 1 }, name: "agent_key_unique", unique: true },
        { key: { wallet_index: 1 }, name: "wallet_index_unique", unique: true },
      ]),
      this.#seedWalletCounter(),
      this.#spend.createIndexes([
        { key: { day: 1, agent: 1 }, name: "day_agent_unique", unique: true },
      ]),
      this.#offers.createIndexes([
        { key: { bid_id: 1, offer_index: 1 }, name: "bid_offer_unique", unique: true },
      ]),
      this.#notes.createIndexes([{ key: { key: 1 }, name: "key_unique", unique: true }]),
      this.#payments.createIndexes([
        { key: { job_id: 1 }, name: "job_unique", unique: true },
        { key: { agent_id: 1 }, name: "agent" },
      ]),
      this.#earned.createIndexes([{ key: { agent_id: 1 }, name: "agent_unique", unique: true }]),
      this.#outcomes.createIndexes([
        { key: { agent_id: 1, job_id: 1 }, name: "agent_job_unique", unique: true },
        { key: { agent_id: 1, bid_at: -1 }, name: "agent_newest" },
      ]),
    ]);
  }

  /**
   * Raises the wallet-index counter to the highest index on record: a database from
   * before the counter continues from there ($max: a counter already ahead is left alone).
   */
  async #seedWalletCounter(): Promise<void> {
    const highest = await this.#wallets.find({}).sort({ wallet_index: -1 }).limit(1).toArray();
    await this.#counters.updateOne(
      { _id: WALLET_COUNTER },
      { $max: { last: highest[0]?.wallet_index ?? -1 } },
      { upsert: true, writeConcern: DURABLE },
    );
  }

  #checkOpen(): void {
    if (this.#closed) throw new BazaarRunnerError("BR_ERR_LEDGER_CLOSED", "ledger: closed");
  }

  /**
   * Writes one entry by key, upserting. Fenced (epoch given): refused when the agent's
   * fence is above the epoch, and the write itself matches only an entry whose epoch is
   * not above ours, so a newer holder's entry is never overwritten. Two racing upserts of
   * a new key can collide on the unique index, so a duplicate key is retried once; when
   * fenced, a second one means the entry exists under a newer epoch.
   */
  async #write<T>(
    agentId: string,
    jobId: string,
    epoch: number | undefined,
    update: (now: Date) => UpdateFilter<LedgerDoc>,
    run: (filter: Document, update: UpdateFilter<LedgerDoc>) => Promise<T>,
  ): Promise<T> {
    this.#checkOpen();
    checkKey(agentId, jobId);
    checkEpoch(epoch);
    const key = { agent_id: agentId, job_id: jobId };
    if (epoch !== undefined) {
      const fence = await this.#fences.findOne({ _id: agentId });
      if (fence && fence.epoch > epoch) throw new StaleEpochError(agentId, epoch, fence.epoch);
    }
    const filter = epoch === undefined ? key : { ...key, epoch: { $not: { $gt: epoch } } };
    const attempt = () => {
      const u = update(new Date(this.#clock()));
      return run(filter, epoch === undefined ? u : { ...u, $set: { ...u.$set, epoch } });
    };
    try {
      return await attempt();
    } catch (err) {
      if (!isDuplicate(err)) throw err;
    }
    try {
      return await attempt();
    } catch (err) {
      if (!isDuplicate(err) || epoch === undefined) throw err;
      const current = (await this.#entries.findOne(key, { projection: { epoch: 1 } }))?.epoch ?? 0;
      if (current > epoch) throw new StaleEpochError(agentId, epoch, current);
      throw err;
    }
  }

  #upsert(
    agentId: string,
    jobId: string,
    update: (now: Date) => UpdateFilter<LedgerDoc>,
    epoch?: number,
  ): Promise<unknown> {
    return this.#write(agentId, jobId, epoch, update, (filter, u) =>
      this.#entries.updateOne(filter, u, { upsert: true, writeConcern: DURABLE }),
    );
  }

  /**
   * Throws StaleEpochError when a newer epoch exists for any fenced bid, on its agent's
   * fence or on its entry (two queries for the round): then none of the round is written.
   */
  async #checkFences(bids: readonly BidRecord[]): Promise<void> {
    const fenced = bids.filter((bid) => bid.epoch !== undefined);
    if (fenced.length === 0) return;
    const lowest = new Map<string, number>();
    for (const { agentId, epoch = 0 } of fenced)
      lowest.set(agentId, Math.min(epoch, lowest.get(agentId) ?? epoch));
    for await (const fence of this.#fences.find({ _id: { $in: [...lowest.keys()] } })) {
      const epoch = lowest.get(fence._id) ?? 0;
      if (fence.epoch > epoch) throw new StaleEpochError(fence._id, epoch, fence.epoch);
    }
    // One query over the round's agents × jobs (index bounds on the unique key, not a
    // clause per bid: an $or of thousands of clauses costs a server thousands of plans),
    // each entry found then compared with its own bid's epoch.
    const wanted = new Map(fenced.map((bid) => [`${bid.agentId}\n${bid.jobId}`, bid.epoch ?? 0]));
    const lowestEpoch = Math.min(...lowest.values());
    const entries = this.#entries.find(
      {
        agent_id: { $in: [...lowest.keys()] },
        job_id: { $in: [...new Set(fenced.map((bid) => bid.jobId))] },
        epoch: { $gt: lowestEpoch },
      },
      { projection: { _id: 0, agent_id: 1, job_id: 1, epoch: 1 } },
    );
    for await (const entry of entries) {
      const epoch = wanted.get(`${entry.agent_id}\n${entry.job_id}`);
      if (epoch !== undefined && (entry.epoch ?? 0) > epoch)
        throw new StaleEpochError(entry.agent_id, epoch, entry.epoch ?? 0);
    }
  }

  /**
   * One bulkWrite of epoch stamps (those at `indices`), fenced on each entry as `#write` is;
   * returns the indices whose upsert collided on the unique index (E11000): a newer epoch
   * on the entry, or a racing insert of the same new key.
   */
  async #stampEntries(stamps: readonly JobStamp[], indices: readonly number[]): Promise<number[]> {
    const now = new Date(this.#clock());
    const operations: AnyBulkWriteOperation<LedgerDoc>[] = indices.map((i) => {
      const { agentId, jobId, epoch } = stamps[i] as JobStamp;
      return {
        updateOne: {
          filter: { agent_id: agentId, job_id: jobId, epoch: { $not: { $gt: epoch } } },
          update: { $set: { updated_at: now, epoch } },
          upsert: true,
        },
      };
    });
    const collided = await duplicatesOf(
      this.#entries.bulkWrite(operations, { ordered: false, writeConcern: DURABLE }),
    );
    return collided.map((index) => indices[index] as number);
  }

  async hasBid(agentId: string, jobId: string): Promise<boolean> {
    this.#checkOpen();
    const doc = await this.#entries.findOne(
      { agent_id: agentId, job_id: jobId, ...LIVE_BID_FILTER },
      { projection: { _id: 1 } },
    );
    return doc !== null;
  }

  async recordBid(
    agentId: string,
    jobId: string,
    bid: { bidId: string; priceUsd: number },
    epoch?: number,
  ): Promise<void> {
    checkPrice(bid.priceUsd);
    await this.#upsert(
      agentId,
      jobId,
      (now) => ({
        $set: { bid_id: bid.bidId, bid_price_usd: bid.priceUsd, bid_at: now, updated_at: now },
        ...REOPEN,
      }),
      epoch,
    );
  }

  async recordBids(bids: readonly BidRecord[]): Promise<void> {
    this.#checkOpen();
    checkBids(bids);
    if (bids.length === 0) return;
    await this.#checkFences(bids);
    const now = new Date(this.#clock());
    const operations: AnyBulkWriteOperation<LedgerDoc>[] = bids.map((bid) => {
      const key = { agent_id: bid.agentId, job_id: bid.jobId };
      const set = {
        bid_id: bid.bidId,
        bid_price_usd: bid.priceUsd,
        bid_at: now,
        updated_at: now,
      };
      return {
        updateOne:
          bid.epoch === undefined
            ? { filter: key, update: { $set: set, ...REOPEN }, upsert: true }
            : {
                // As in `write`: a newer epoch on the entry makes the upsert collide.
                filter: { ...key, epoch: { $not: { $gt: bid.epoch } } },
                update: { $set: { ...set, epoch: bid.epoch }, ...REOPEN },
                upsert: true,
              },
      };
    });
    // One round trip for the round: unordered, so one failed record holds up no other.
    const run = () =>
      this.#entries.bulkWrite(operations, { ordered: false, writeConcern: DURABLE });
    try {
      await run();
    } catch (err) {
      // Racing upserts of a new key can collide on the unique index; the writes are
      // idempotent, so the round is sent again once.
      if (!duplicateIndices(err)) throw err;
      try {
        await run();
      } catch (again) {
        // A collision left after the retry: a newer holder stamped the entry meanwhile.
        if (again instanceof MongoBulkWriteError) await this.#checkFences(bids);
        throw again;
      }
    }
  }

  async bidsOn(jobIds: readonly string[]): Promise<Map<string, Set<string>>> {
    this.#checkOpen();
    const found = new Map<string, Set<string>>();
    if (jobIds.length === 0) return found;
    const docs = this.#entries.find(
      { job_id: { $in: [...jobIds] }, ...LIVE_BID_FILTER },
      { projection: { _id: 0, job_id: 1, agent_id: 1 } },
    );
    for await (const doc of docs) addBidder(found, doc.job_id, doc.agent_id);
    return found;
  }

  async openStakes(): Promise<LedgerEntry[]> {
    this.#checkOpen();
    return (await this.#entries.find(OPEN_STAKE_FILTER).toArray()).map(toEntry);
  }

  async endStake(agentId: string, jobId: string, reason: string, bidId?: string): Promise<boolean> {
    this.#checkOpen();
    checkKey(agentId, jobId);
    const now = new Date(this.#clock());
    // `null` matches a missing bid id too (a stake from a win alone).
    const sameBid: Document =
      bidId === undefined ? {} : { bid_id: { $in: [null, "unknown", bidId] } };
    const res = await this.#entries.updateOne(
      { agent_id: agentId, job_id: jobId, stake_ended_at: null, ...sameBid },
      { $set: { stake_ended_at: now, stake_ended_reason: clip(reason), updated_at: now } },
      { writeConcern: DURABLE },
    );
    return res.modifiedCount > 0;
  }

  async recordWon(agentId: string, jobId: string, epoch?: number): Promise<void> {
    // $min keeps the first time the job was seen won (ExecutionStore.recordWon).
    await this.#upsert(
      agentId,
      jobId,
      (now) => ({ $min: { won_at: now }, $set: { updated_at: now } }),
      epoch,
    );
  }

  async startExecution(agentId: string, jobId: string, epoch?: number): Promise<number> {
    const doc = await this.#write(
      agentId,
      jobId,
      epoch,
      (now) => ({
        $inc: { execution_attempts: 1 },
        $set: { execution_started_at: now, updated_at: now },
      }),
      (filter, update) =>
        this.#entries.findOneAndUpdate(filter, update, {
          upsert: true,
          returnDocument: "after",
          writeConcern: DURABLE,
        }),
    );
    if (doc === null)
      throw new BazaarRunnerError(
        "BR_ERR_INTERNAL",
        "ledger: startExecution upsert returned no document",
      );
    return toEntry(doc).executionAttempts;
  }

  async fenceJobs(stamps: readonly JobStamp[]): Promise<(StaleEpochError | undefined)[]> {
    this.#checkOpen();
    checkStamps(stamps);
    const refusals: (StaleEpochError | undefined)[] = stamps.map(() => undefined);
    if (stamps.length === 0) return refusals;
    // One query for the agents' fences: a stamp under an older epoch is refused unwritten.
    const agents = [...new Set(stamps.map((stamp) => stamp.agentId))];
    const fenceOf = new Map<string, number>();
    for await (const fence of this.#fences.find({ _id: { $in: agents } }))
      fenceOf.set(fence._id, fence.epoch);
    let pending: number[] = [];
    stamps.forEach(({ agentId, epoch }, i) => {
      const fence = fenceOf.get(agentId) ?? 0;
      if (fence > epoch) refusals[i] = new StaleEpochError(agentId, epoch, fence);
      else pending.push(i);
    });
    // One bulkWrite for the rest; what collided is sent once more (a racing insert),
    // then what still collides is looked up: a newer epoch on the entry refuses it.
    for (let attempt = 0; attempt < 2 && pending.length > 0; attempt++)
      pending = await this.#stampEntries(stamps, pending);
    if (pending.length === 0) return refusals;
    const entries = await this.#entries
      .find(
        {
          $or: pending.map((i) => ({
            agent_id: stamps[i]?.agentId,
            job_id: stamps[i]?.jobId,
          })),
        },
        { projection: { agent_id: 1, job_id: 1, epoch: 1 } },
      )
      .toArray();
    for (const i of pending) {
      const { agentId, jobId, epoch } = stamps[i] as JobStamp;
      const entry = entries.find((e) => e.agent_id === agentId && e.job_id === jobId);
      const current = entry?.epoch ?? 0;
      if (current <= epoch)
        throw new BazaarRunnerError(
          "BR_ERR_INTERNAL",
          `ledger: stamping agent ${agentId}'s entry for job ${jobId} collided twice with no newer epoch`,
        );
      refusals[i] = new StaleEpochError(agentId, epoch, current);
    }
    return refusals;
  }

  async raiseFence(agentId: string, epoch: number): Promise<void> {
    this.#checkOpen();
    checkEpoch(epoch);
    const refusal = await this.#fenceBatch.get({ agentId, epoch });
    if (refusal) throw refusal;
  }

  /** A batch of one, in two commands: the fence raised and read back at once, then the stamps. */
  async #raiseOneFence({ agentId, epoch }: FenceRaise): Promise<StaleEpochError | undefined> {
    const fence = await this.#fences.findOneAndUpdate(
      { _id: agentId },
      { $max: { epoch } },
      { upsert: true, returnDocument: "after", writeConcern: DURABLE },
    );
    const current = fence?.epoch ?? epoch;
    if (current > epoch) return new StaleEpochError(agentId, epoch, current);
    // Entries a paused old holder might still be about to write get our epoch now.
    await this.#entries.updateMany(
      { agent_id: agentId, accepted_at: null, closed_at: null, epoch: { $not: { $gte: epoch } } },
      { $set: { epoch } },
      { writeConcern: DURABLE },
    );
    return undefined;
  }

  /**
   * `raiseFence` for a batch, in three commands: one bulkWrite raises every fence ($max
   * never lowers one), one find reads them back (higher than asked: a newer holder, that
   * call is refused), one bulkWrite stamps the open entries of the agents raised. An
   * agent's entries are stamped only after its fence is up, as `raiseFence` promises.
   */
  async #raiseFences(fences: readonly FenceRaise[]): Promise<(StaleEpochError | undefined)[]> {
    this.#checkOpen();
    if (fences.length === 1) return [await this.#raiseOneFence(fences[0] as FenceRaise)];
    const raise = (indices: readonly number[]) =>
      this.#fences.bulkWrite(
        indices.map((i) => {
          const { agentId, epoch } = fences[i] as FenceRaise;
          return {
            updateOne: { filter: { _id: agentId }, update: { $max: { epoch } }, upsert: true },
          };
        }),
        { ordered: false, writeConcern: DURABLE },
      );
    // Two first raises of one agent's fence (replicas) collide once on its _id.
    const collided = await duplicatesOf(raise(fences.map((_, i) => i)));
    if (collided.length > 0) await raise(collided);
    const agents = [...new Set(fences.map((fence) => fence.agentId))];
    const current = new Map<string, number>();
    for await (const fence of this.#fences.find({ _id: { $in: agents } }))
      current.set(fence._id, fence.epoch);
    const refusals = fences.map(({ agentId, epoch }) => {
      const fence = current.get(agentId) ?? epoch;
      return fence > epoch ? new StaleEpochError(agentId, epoch, fence) : undefined;
    });
    const raised = fences.filter((_, i) => refusals[i] === undefined);
    // Entries a paused old holder might still be about to write get the new epoch now.
    if (raised.length > 0)
      await this.#entries.bulkWrite(
        raised.map(({ agentId, epoch }) => ({
          updateMany: {
            filter: {
              agent_id: agentId,
              accepted_at: null,
              closed_at: null,
              epoch: { $not: { $gte: epoch } },
            },
            update: { $set: { epoch } },
          },
        })),
        { ordered: false, writeConcern: DURABLE },
      );
    return refusals;
  }

  async recordResult(
    agentId: string,
    jobId: string,
    result: LedgerResult,
    epoch?: number,
  ): Promise<void> {
    const clean = cleanResult(result);
    const stored: NonNullable<LedgerDoc["result"]> = {
      success: clean.success,
      output: clean.output,
      tokens_used: clean.tokensUsed,
      model: clean.model,
    };
    if (clean.error !== undefined) stored.error = clean.error;
    await this.#upsert(
      agentId,
      jobId,
      (now) => ({ $set: { result: stored, result_at: now, updated_at: now } }),
      epoch,
    );
  }

  async markAccepted(agentId: string, jobId: string): Promise<void> {
    await this.#upsert(agentId, jobId, (now) => ({
      $min: { accepted_at: now }, // the first acceptance is kept (ExecutionStore.markAccepted)
      $set: { updated_at: now },
    }));
  }

  async closeResult(agentId: string, jobId: string, reason: string): Promise<void> {
    await this.#upsert(agentId, jobId, (now) => ({
      $set: { closed_reason: clip(reason), closed_at: now, updated_at: now },
    }));
  }

  async recordSubmitFailure(
    agentId: string,
    jobId: string,
    error: string,
    nextSubmitAt: number,
  ): Promise<void> {
    checkEpochMs(nextSubmitAt);
    await this.#upsert(agentId, jobId, (now) => ({
      $inc: { submit_attempts: 1 },
      $set: { last_submit_error: clip(error), next_submit_at: nextSubmitAt, updated_at: now },
    }));
  }

  async get(agentId: string, jobId: string): Promise<LedgerEntry | undefined> {
    this.#checkOpen();
    const doc = await this.#entries.findOne({ agent_id: agentId, job_id: jobId });
    return doc === null ? undefined : toEntry(doc);
  }

  async pendingResults(agentId?: string): Promise<LedgerEntry[]> {
    this.#checkOpen();
    const filter =
      agentId === undefined ? PENDING_FILTER : { ...PENDING_FILTER, agent_id: agentId };
    const docs = await this.#entries.find(filter).sort(PENDING_SORT).toArray();
    return docs.map(toEntry);
  }

  async walletIndex(agentKey: string): Promise<number> {
    this.#checkOpen();
    checkName("agentKey", agentKey);
    return this.#walletBatch.get(agentKey);
  }

  /**
   * `walletIndex` for a batch: one look for the keys mapped already; for the rest one
   * atomic step reserves as many numbers ($inc on the counter by their count) and one
   * unordered insert maps them. So a batch costs three commands however many agents
   * start at once. A number is never handed out twice; one reserved for an agent another
   * replica mapped first is left unused.
   */
  async #walletIndexes(agentKeys: readonly string[]): Promise<number[]> {
    this.#checkOpen();
    const found = new Map<string, number>();
    const look = async (keys: readonly string[]) => {
      const docs = this.#wallets.find(
        { agent_key: { $in: [...keys] } },
        { projection: { _id: 0, agent_key: 1, wallet_index: 1 } },
      );
      for await (const doc of docs) found.set(doc.agent_key, doc.wallet_index);
    };
    const keys = [...new Set(agentKeys)];
    await look(keys);
    for (let attempt = 0; attempt < 20; attempt++) {
      const missing = keys.filter((key) => !found.has(key));
      if (missing.length === 0) return agentKeys.map((key) => found.get(key) as number);
      const counter = await this.#counters.findOneAndUpdate(
        { _id: WALLET_COUNTER },
        { $inc: { last: missing.length } },
        { upsert: true, returnDocument: "after", writeConcern: DURABLE },
      );
      const first = (counter?.last ?? missing.length - 1) - missing.length + 1;
      const createdAt = new Date(this.#clock());
      const docs = missing.map((agent_key, i) => ({
        agent_key,
        wallet_index: first + i,
        created_at: createdAt,
      }));
      const collided = new Set(await this.#insertNew(docs));
      docs.forEach((doc, i) => {
        if (!collided.has(i)) found.set(doc.agent_key, doc.wallet_index);
      });
      if (collided.size === 0) continue;
      // Another replica mapped an agent first: its number is the agent's.
      await look(docs.filter((_, i) => collided.has(i)).map((doc) => doc.agent_key));
      // Else the number was taken without the counter (a runner from before it, during
      // an upgrade): the counter catches up with the highest index, then takes the next.
      if (docs.some((doc) => !found.has(doc.agent_key))) await this.#seedWalletCounter();
    }
    throw new BazaarRunnerError(
      "BR_ERR_LEDGER_CONTENTION",
      "ledger: could not allocate a wallet index (the counter is behind)",
    );
  }

  /** One unordered insert of new wallet mappings; returns the positions that hit a unique key. */
  async #insertNew(docs: WalletDoc[]): Promise<number[]> {
    return duplicatesOf(this.#wallets.insertMany(docs, { ordered: false, writeConcern: DURABLE }));
  }

  async addSpend(day: string, agent: string, usd: number): Promise<void> {
    this.#checkOpen();
    checkDay(day);
    checkName("agent", agent);
    checkUsd(usd);
    const run = () =>
      this.#spend.updateOne(
        { day, agent },
        { $inc: { usd } },
        { upsert: true, writeConcern: DURABLE },
      );
    try {
      await run();
    } catch (err) {
      if (!isDuplicate(err)) throw err;
      await run();
    }
  }

  async spendOn(day: string, agent?: string): Promise<number> {
    this.#checkOpen();
    const docs = await this.#spend.find(agent === undefined ? { day } : { day, agent }).toArray();
    return docs.reduce((sum, doc) => sum + doc.usd, 0);
  }

  async recordOfferAnswer(answer: OfferAnswer): Promise<boolean> {
    this.#checkOpen();
    const a = cleanOfferAnswer(answer);
    return insertOnce(this.#offers, {
      bid_id: a.bidId,
      offer_index: a.offerIndex,
      agent_id: a.agentId,
      job_id: a.jobId,
      action: a.action,
      price_usd: a.priceUsd ?? null,
      reason: a.reason,
      answered_at: new Date(this.#clock()),
    });
  }

  async offerAnswer(bidId: string, offerIndex: number): Promise<OfferAnswer | undefined> {
    this.#checkOpen();
    const doc = await this.#offers.findOne({ bid_id: bidId, offer_index: offerIndex });
    if (doc === null) return undefined;
    return offerAnswerSchema.parse({
      agentId: doc.agent_id,
      jobId: doc.job_id,
      bidId: doc.bid_id,
      offerIndex: doc.offer_index,
      action: doc.action,
      ...(doc.price_usd != null ? { priceUsd: doc.price_usd } : {}),
      reason: doc.reason,
      answeredAt: doc.answered_at.toISOString(),
    });
  }

  async noteOnce(key: string): Promise<boolean> {
    this.#checkOpen();
    checkName("key", key);
    return insertOnce(this.#notes, { key, at: new Date(this.#clock()) });
  }

  async recordPayment(payment: PaymentRecord): Promise<boolean> {
    this.#checkOpen();
    const p = cleanPayment(payment);
    return insertOnce(this.#payments, {
      job_id: p.jobId,
      agent_id: p.agentId,
      amount_usd: p.amountUsd,
      outcome: p.outcome,
      quality_score: p.qualityScore,
      recorded_at: new Date(this.#clock()),
    });
  }

  async payment(jobId: string): Promise<PaymentRecord | undefined> {
    this.#checkOpen();
    const doc = await this.#payments.findOne({ job_id: jobId });
    return doc === null ? undefined : toPayment(doc);
  }

  async paidTotals(agentId: string): Promise<PaidTotals> {
    this.#checkOpen();
    return this.#paidBatch.get(agentId);
  }

  /** `paidTotals` of a batch of agents, in one find. */
  async #paidTotalsOf(agentIds: readonly string[]): Promise<PaidTotals[]> {
    this.#checkOpen();
    const paid = new Map<string, PaidTotals>();
    const docs = this.#payments.find(
      { agent_id: { $in: [...new Set(agentIds)] } },
      { projection: { _id: 0, agent_id: 1, amount_usd: 1 } },
    );
    for await (const doc of docs) {
      const sum = paid.get(doc.agent_id) ?? { jobs: 0, paidUsd: 0 };
      paid.set(doc.agent_id, { jobs: sum.jobs + 1, paidUsd: sum.paidUsd + doc.amount_usd });
    }
    return agentIds.map((id) => paid.get(id) ?? { jobs: 0, paidUsd: 0 });
  }

  async unpaidResults(agentId: string): Promise<LedgerEntry[]> {
    this.#checkOpen();
    const accepted = (
      await this.#entries
        .find(
          { agent_id: agentId, accepted_at: { $ne: null }, "result.success": true },
          { projection: { _id: 0 } },
        )
        .sort({ accepted_at: 1, job_id: 1 })
        .toArray()
    ).map(toEntry);
    if (accepted.length === 0) return [];
    const paid = new Set(
      (
        await this.#payments
          .find(
            { job_id: { $in: accepted.map((e) => e.jobId) } },
            { projection: { _id: 0, job_id: 1 } },
          )
          .toArray()
      ).map((d) => d.job_id),
    );
    return accepted.filter((e) => !paid.has(e.jobId));
  }

  async earnedSeen(agentId: string): Promise<EarnedSeen | undefined> {
    this.#checkOpen();
    const doc = await this.#earned.findOne({ agent_id: agentId });
    return doc === null ? undefined : { usd: doc.usd, since: doc.since.toISOString() };
  }

  async setEarnedSeen(agentId: string, usd: number): Promise<void> {
    this.#checkOpen();
    checkEarned(agentId, usd);
    await this.#earned.updateOne(
      { agent_id: agentId },
      {
        $set: { usd, updated_at: new Date(this.#clock()) },
        $setOnInsert: { since: new Date(this.#clock()) },
      },
      { upsert: true, writeConcern: DURABLE },
    );
  }

  async agentTotals(agentId: string): Promise<AgentTotals> {
    this.#checkOpen();
    return this.#totalsBatch.get(agentId);
  }

  /** `agentTotals` of a batch of agents, in one find. */
  async #agentTotalsOf(agentIds: readonly string[]): Promise<AgentTotals[]> {
    this.#checkOpen();
    const entries = new Map<string, LedgerEntry[]>();
    const docs = this.#entries.find(
      { agent_id: { $in: [...new Set(agentIds)] } },
      { projection: { _id: 0 } },
    );
    for await (const doc of docs) {
      const entry = toEntry(doc);
      const list = entries.get(entry.agentId);
      if (list) list.push(entry);
      else entries.set(entry.agentId, [entry]);
    }
    return agentIds.map((id) => totalsOf(entries.get(id) ?? []));
  }

  async noteOutcome(agentId: string, jobId: string, patch: JobOutcomePatch): Promise<void> {
    this.#checkOpen();
    checkKey(agentId, jobId);
    const { bidAt, ...fields } = cleanOutcomePatch(patch);
    const set: Document = { updated_at: new Date(this.#clock()) };
    for (const [field, value] of Object.entries(fields)) set[snakeCase(field)] = value;
    if (bidAt !== undefined) set.bid_at = new Date(bidAt);
    // $set merges field by field; two racing first writes collide once on the unique key.
    const run = () =>
      this.#outcomes.updateOne(
        { agent_id: agentId, job_id: jobId },
        { $set: set },
        { upsert: true, writeConcern: DURABLE },
      );
    try {
      await run();
    } catch (err) {
      if (!isDuplicate(err)) throw err;
      await run();
    }
  }

  async outcomes(agentId: string, limit = DEFAULT_OUTCOME_LIMIT): Promise<JobOutcome[]> {
    this.#checkOpen();
    checkOutcomeLimit(limit);
    if (limit === 0) return []; // MongoDB reads limit 0 as "no limit"
    const docs = await this.#outcomes
      .find({ agent_id: agentId }, { projection: { _id: 0 } })
      .sort({ bid_at: -1, job_id: 1 })
      .limit(limit)
      .toArray();
    return docs.map(
      ({ agent_id, job_id, bid_at, updated_at, ...fields }): JobOutcome =>
        jobOutcomeSchema.parse({
          ...Object.fromEntries(Object.entries(fields).map(([k, v]) => [camelCase(k), v])),
          agentId: agent_id,
          jobId: job_id,
          ...(bid_at instanceof Date ? { bidAt: bid_at.toISOString() } : {}),
          updatedAt: updated_at.toISOString(),
        }),
    );
  }

  async summary(): Promise<LedgerSummary> {
    this.#checkOpen();
    const succeeded = { accepted_at: { $ne: null }, "result.success": true };
    const [entries, bids, won, pendingResults, accepted, failed, closedCount] = await Promise.all([
      this.#entries.countDocuments({}),
      this.#entries.countDocuments({ bid_at: { $ne: null } }),
      this.#entries.countDocuments({ won_at: { $ne: null } }),
      this.#entries.countDocuments(PENDING_FILTER),
      this.#entries.countDocuments(succeeded),
      this.#entries.countDocuments({
        $or: [
          { closed_at: { $ne: null } },
          { accepted_at: { $ne: null }, "result.success": { $ne: true } },
        ],
      }),
      this.#entries.countDocuments({ closed_at: { $ne: null } }),
    ]);
    return {
      backend: "mongo",
      entries,
      bids,
      won,
      pendingResults,
      accepted,
      failed,
      closed: closedCount,
    };
  }

  async close(): Promise<void> {
    this.#closed = true;
  }
}
