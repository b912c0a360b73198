import type { Bid, Job } from "../../marketplace/schemas.ts";
import type { LedgerEntry } from "../../state/types.ts";

/** Prices within a hundredth of a cent are equal (floats from JSON). */
const EPSILON_USD = 0.0001;

/**
 * Whether an assignment is one this agent agreed to: anybody may bid in any agent's
 * name at any price and select that bid, so an assignment alone is no agreement.
 */
export type AssignmentVerdict =
  | { kind: "ours"; agreedUsd: number }
  | { kind: "refused"; reason: "not_our_bid" | "below_floor"; detail: string };

export interface AssignmentFacts {
  job: Job;
  /** This agent's ledger entry for the job. */
  entry: LedgerEntry | undefined;
  /** The agent's price floor for the job now. */
  floorUsd: number;
  /** The winning bid as the marketplace lists it, when the job does not carry the price. */
  winningBid?: Pick<Bid, "bid_id" | "price_usd" | "final_price_usd">;
}

/** True when the check needs the winning bid's price (the job does not say it). */
export function needsWinningBid(job: Job, entry: LedgerEntry | undefined): boolean {
  return job.final_price_usd == null && !knownOwnBid(job, entry);
}

/** The winning bid is the bid this agent placed, by id. */
function knownOwnBid(job: Job, entry: LedgerEntry | undefined): boolean {
  return (
    entry?.bidId !== undefined &&
    entry.bidId !== "unknown" &&
    job.winning_bid_id != null &&
    job.winning_bid_id === entry.bidId
  );
}

/**
 * The runner executes only jobs it bid on at a price it accepted: its ledger holds its
 * own bid for the job (the winning bid's id, or, for a bid whose id it never learnt, a
 * live bid of the agent), and the agreed price (the job's `final_price_usd`, else the
 * winning bid's) is at least the floor, or at least the price the agent itself bid.
 */
export function checkAssignment(facts: AssignmentFacts): AssignmentVerdict {
  const { job, entry, floorUsd } = facts;
  if (!entry?.bidAt) {
    return refuse("not_our_bid", "this runner placed no bid of this agent on the job");
  }
  const ownBid = knownOwnBid(job, entry);
  const idUnknown = entry.bidId === undefined || entry.bidId === "unknown";
  if (!ownBid) {
    if (!idUnknown && job.winning_bid_id != null)
      return refuse(
        "not_our_bid",
        `the winning bid ${job.winning_bid_id} is not the agent's bid ${entry.bidId}`,
      );
    if (entry.stakeEndedAt !== undefined)
      return refuse("not_our_bid", "the agent's own bid on the job was given up on");
  }
  const agreedUsd =
    job.final_price_usd ??
    facts.winningBid?.final_price_usd ??
    facts.winningBid?.price_usd ??
    (ownBid ? entry.bidPriceUsd : undefined);
  if (agreedUsd == null)
    return refuse(
      "not_our_bid",
      "the agreed price is unknown: neither the job nor its bid says it",
    );
  const bidByUs =
    ownBid && entry.bidPriceUsd !== undefined && agreedUsd + EPSILON_USD >= entry.bidPriceUsd;
  if (agreedUsd + EPSILON_USD < floorUsd && !bidByUs)
    return refuse(
      "below_floor",
      `assigned at $${agreedUsd}, below the agent's floor of $${floorUsd.toFixed(4)}`,
    );
  return { kind: "ours", agreedUsd };
}

function refuse(reason: "not_our_bid" | "below_floor", detail: string): AssignmentVerdict {
  return { kind: "refused", reason, detail };
}
