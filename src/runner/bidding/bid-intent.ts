import type { Job } from "../../marketplace/schemas.ts";
import type { StaleEpochError } from "../../state/fence.ts";
import type { PlaceDecision } from "../policy/bid-decision.ts";

/**
 * A bid decided in a round, to be placed with the round's others: a plain value (the
 * job as listed, the decision, whose bid it is), holding no live object; what placing
 * it needs of the agent is asked of the round's BidPlacer.
 */
export interface BidIntent {
  readonly agentId: string;
  readonly job: Job;
  readonly decision: PlaceDecision;
  /** The agent's lease epoch when it decided (replicas only): its ledger writes carry it. */
  readonly epoch?: number;
}

/**
 * What placing a round asks of the agent whose bids they are (its Bidder, with the agent
 * as it was when it decided them).
 */
export interface BidPlacer {
  /** Sends one bid: its id, or undefined after recording why it failed. */
  send(intent: BidIntent): Promise<string | undefined>;
  /** The marketplace took the bid (and the ledger recorded it, or tried to). */
  placed(intent: BidIntent, bidId: string): void;
  /** The ledger could not record the bid; it stands. */
  unrecorded(intent: BidIntent, error: unknown): void;
  /** The ledger could not stamp the job with the lease epoch: no bid; decided again later. */
  unfenced(intent: BidIntent, error: unknown): void;
  /** The ledger refused a write: a newer holder has the agent. */
  fenced(error: StaleEpochError): void;
}

/** One agent's share of a round: the bids it decided, and who places them. */
export interface DecidedBids {
  readonly placer: BidPlacer;
  readonly intents: readonly BidIntent[];
}
