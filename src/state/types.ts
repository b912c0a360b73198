/**
 * The durable ledger: per (agent, job), what the runner has done, so that a restart
 * bids nothing twice, executes a won job once, and never loses or resends a result.
 */
import type { StaleEpochError } from "./fence.ts";
import type { OutcomeStore } from "./outcomes.ts";

export interface LedgerResult {
  success: boolean;
  output: string;
  tokensUsed: number;
  model: string;
  error?: string;
}

export interface LedgerEntry {
  agentId: string;
  jobId: string;
  bidId?: string;
  bidPriceUsd?: number;
  bidAt?: string;
  wonAt?: string;
  executionStartedAt?: string;
  /** How many times execution was started (a restart mid-execution makes it 2). */
  executionAttempts: number;
  result?: LedgerResult;
  resultAt?: string;
  acceptedAt?: string;
  /** Set when the outbox gave up on the result (400/403/404); the output stays. */
  closedReason?: string;
  closedAt?: string;
  submitAttempts: number;
  lastSubmitError?: string;
  /** Epoch ms before which the outbox does not retry. */
  nextSubmitAt?: number;
  /** The lease epoch of the last fenced write (replicas only). */
  epoch?: number;
  /**
   * Set when the runner gave up on the job (its bid lost, rejected or cancelled, the job
   * closed): no longer looked up, and no longer a bid (`hasBid`, `bidsOn`). A new bid on
   * the job clears it.
   */
  stakeEndedAt?: string;
  stakeEndedReason?: string;
  updatedAt: string;
}

export interface LedgerSummary {
  backend: "sqlite" | "mongo";
  entries: number;
  bids: number;
  won: number;
  /** Results produced and not yet accepted or closed. */
  pendingResults: number;
  /** Successful results the marketplace accepted (the dashboard's "results accepted"). */
  accepted: number;
  /** Failed results submitted, and results refused for good (the dashboard's "results failed"). */
  failed: number;
  /** Results the outbox gave up on (refused for good); also counted in `failed`. */
  closed: number;
}

/** A job to stamp with its agent's lease epoch, for `fenceJobs`. */
export interface JobStamp {
  agentId: string;
  jobId: string;
  epoch: number;
}

/** One bid of a round, for `recordBids`. */
export interface BidRecord {
  agentId: string;
  jobId: string;
  bidId: string;
  priceUsd: number;
  /** The bidding agent's lease epoch (replicas only): the write is fenced like `recordBid`'s. */
  epoch?: number;
}

/** How the runner answered one counter-offer on one of its bids. */
export interface OfferAnswer {
  agentId: string;
  jobId: string;
  bidId: string;
  /** Position of the offer in the bid's `counter_offers` (0-based). */
  offerIndex: number;
  action: "accept" | "counter" | "lapse";
  /** The price accepted or countered with. */
  priceUsd?: number;
  reason: string;
  /** Set by the ledger. */
  answeredAt?: string;
}

/**
 * One agent's totals, as the ledger knows them: what its stats start from after a
 * restart, so that the figures on the dashboard and the ledger's agree.
 */
export interface AgentTotals {
  /** Bids this agent has on record, and the sum of their prices. */
  bids: number;
  bidUsd: number;
  /** Jobs assigned to it, and the sum of the prices it bid for them. */
  won: number;
  wonUsd: number;
  /** Successful results the marketplace accepted. */
  succeeded: number;
  /** Failed results submitted, and results the marketplace refused for good. */
  failed: number;
}

/**
 * What a job's sign-off paid one of our agents, attributed to that job once (keyed by
 * job). On the service a payment is a new transaction only the signer-off sees; the
 * runner knows it from the agent's `total_earned_usd`, the job's escrow status and
 * `quality_score` (see runner/payment-reader.ts).
 */
export interface PaymentRecord {
  jobId: string;
  agentId: string;
  /** USD paid to the agent for the job; 0 when nothing was. */
  amountUsd: number;
  /**
   * `released` (the whole agreed price), `partial` (half of it), `refunded` (the poster
   * got the escrow back), `unpaid` (no escrow, or the job was paid to another agent).
   */
  outcome: "released" | "partial" | "refunded" | "unpaid";
  qualityScore: number | null;
  /** Set by the ledger. */
  recordedAt?: string;
}

/** An agent's `total_earned_usd` as last accounted for (see Ledger.earnedSeen). */
export interface EarnedSeen {
  usd: number;
  /** ISO time of the first account: payments released before it are inside `usd`. */
  since: string;
}

/** One agent's payments on record: how many jobs, and what they paid. */
export interface PaidTotals {
  jobs: number;
  paidUsd: number;
}

/**
 * Fencing: with replicas, the writes that act for an agent (`epoch` given) carry the
 * epoch of the lease under which they are made, and throw StaleEpochError when a newer
 * epoch exists for the agent (its fence, or the entry's own epoch). Without `epoch` a
 * write is unfenced (one process, no leases).
 *
 * The ledger is a set of small stores, one per kind of fact; a caller depends on the ones
 * it uses, and `Ledger` is all of them. Each method's comment is the rule every backend
 * keeps (the contract suite, test/state/ledger-contract.ts, holds each backend to it).
 */

/** The bids on record: what keeps a restart from bidding twice. */
export interface BidStore {
  /** True if this agent has a live bid on this job (recorded, its stake not ended). */
  hasBid(agentId: string, jobId: string): Promise<boolean>;
  /**
   * Records the bid (its id and price, the time now), replacing an earlier one on the
   * job; a new bid opens a stake ended before again (`endStake`).
   */
  recordBid(
    agentId: string,
    jobId: string,
    bid: { bidId: string; priceUsd: number },
    epoch?: number,
  ): Promise<void>;
  /**
   * The bids of one round in one write (one SQLite transaction, one MongoDB bulkWrite):
   * every record is checked first, and bad input writes nothing. Fenced like `recordBid`, entry by entry
   * (those with an epoch): one stale entry (StaleEpochError) writes none.
   */
  recordBids(bids: readonly BidRecord[]): Promise<void>;
  /** The agents with a live bid on record, for each of these jobs that has any (one query). */
  bidsOn(jobIds: readonly string[]): Promise<Map<string, Set<string>>>;
}

/** The jobs the runner has a stake in (a bid or a win, no result yet). */
export interface StakeStore {
  /**
   * The runner's stakes: entries with a bid or a win, no result yet, not ended
   * (`endStake`). What the runner looks up when no listing shows the job any more.
   */
  openStakes(): Promise<LedgerEntry[]>;
  /**
   * Gives up on a stake (its bid lost, rejected or cancelled; the job closed), with the
   * reason. With `bidId`, only while the entry's bid is that one (or of unknown id:
   * none, or `"unknown"`), so a report about an old bid never ends a newer one. True when
   * the stake was open and is ended now: once per bid, however many replicas notice it.
   */
  endStake(agentId: string, jobId: string, reason: string, bidId?: string): Promise<boolean>;
}

/** A won job from its award to its result's acceptance: executed once, its result never lost. */
export interface ExecutionStore {
  /** Marks the job won; the first time it was seen won is kept, the bid is left as it is. */
  recordWon(agentId: string, jobId: string, epoch?: number): Promise<void>;
  /** Marks execution started and returns how many times it has been started, this one included. */
  startExecution(agentId: string, jobId: string, epoch?: number): Promise<number>;
  /** Writes the result down (replacing one before). Must be durable before the result is submitted. */
  recordResult(agentId: string, jobId: string, result: LedgerResult, epoch?: number): Promise<void>;
  /** The marketplace took the result; the first time it did is kept. */
  markAccepted(agentId: string, jobId: string): Promise<void>;
  /** The outbox gives up on this result, keeping the output for the operator. */
  closeResult(agentId: string, jobId: string, reason: string): Promise<void>;
  /** One more failed submission: counted, with its error and when to try next. */
  recordSubmitFailure(
    agentId: string,
    jobId: string,
    error: string,
    nextSubmitAt: number,
  ): Promise<void>;
  /** Results produced but neither accepted nor closed, oldest first; of one agent if given. */
  pendingResults(agentId?: string): Promise<LedgerEntry[]>;
}

/** Lease epochs on the entries (replicas only; see above). */
export interface FenceStore {
  /**
   * Stamps each entry with its epoch before an act outside the ledger (placing a round's
   * bids), in one write (one SQLite transaction; with MongoDB one fence query and one
   * bulkWrite). Each stamp is answered alone, in order: `undefined` when stamped, its
   * StaleEpochError when a newer epoch exists for the agent. Bad input writes nothing;
   * any other failure throws.
   */
  fenceJobs(stamps: readonly JobStamp[]): Promise<(StaleEpochError | undefined)[]>;
  /**
   * A new lease holder's first write: raises the agent's fence to `epoch` and stamps the
   * agent's open entries (not accepted, not closed) with it, so no write under an older
   * epoch lands afterwards. Throws StaleEpochError when the fence is already higher.
   */
  raiseFence(agentId: string, epoch: number): Promise<void>;
}

/** Reading the entries back: one, one agent's totals, all of them summed up. */
export interface EntryReader {
  get(agentId: string, jobId: string): Promise<LedgerEntry | undefined>;
  /** One agent's totals (see AgentTotals; `totalsOf` in common.ts counts them). */
  agentTotals(agentId: string): Promise<AgentTotals>;
  summary(): Promise<LedgerSummary>;
}

export interface WalletIndexStore {
  /**
   * The agent's wallet index (its key is m/44'/60'/0'/0/index), allocated on first use:
   * the same for that agent ever after, and never another agent's. Concurrent first uses
   * (replicas, many agents starting at once) each cost a bounded number of round trips.
   */
  walletIndex(agentKey: string): Promise<number>;
}

export interface SpendStore {
  /** Adds estimated LLM spend of an agent to a UTC day (`YYYY-MM-DD`). */
  addSpend(day: string, agent: string, usd: number): Promise<void>;
  /** Estimated LLM spend on a UTC day: of one agent, or of all of them. */
  spendOn(day: string, agent?: string): Promise<number>;
}

export interface OfferAnswerStore {
  /** Writes down the answer to a counter-offer; false (and nothing written) if it was answered before. */
  recordOfferAnswer(answer: OfferAnswer): Promise<boolean>;
  offerAnswer(bidId: string, offerIndex: number): Promise<OfferAnswer | undefined>;
}

export interface OnceNotes {
  /** True the first time a key is noted, false ever after: for things said once (a migration notice). */
  noteOnce(key: string): Promise<boolean>;
}

export interface PaymentStore {
  /** Writes down what a job paid; false (and nothing written) if the job has a payment on record. */
  recordPayment(payment: PaymentRecord): Promise<boolean>;
  payment(jobId: string): Promise<PaymentRecord | undefined>;
  /** One agent's payments on record (see PaidTotals). */
  paidTotals(agentId: string): Promise<PaidTotals>;
  /** One agent's successful results the marketplace accepted with no payment on record, oldest first. */
  unpaidResults(agentId: string): Promise<LedgerEntry[]>;
  /**
   * The agent's `total_earned_usd` as the runner last accounted for it, and since when it
   * has been accounted for (the first write, kept by later ones); undefined before the first look.
   */
  earnedSeen(agentId: string): Promise<EarnedSeen | undefined>;
  setEarnedSeen(agentId: string, usd: number): Promise<void>;
}

/** Every store of the ledger, in one backend. */
export interface Ledger
  extends BidStore,
    StakeStore,
    ExecutionStore,
    FenceStore,
    EntryReader,
    WalletIndexStore,
    SpendStore,
    OfferAnswerStore,
    OnceNotes,
    PaymentStore,
    OutcomeStore {
  readonly backend: LedgerSummary["backend"];
  close(): Promise<void>;
}
