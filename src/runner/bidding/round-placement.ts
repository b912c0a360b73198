import { mapBounded } from "../../pool.ts";
import { isStaleEpoch } from "../../state/fence.ts";
import type { BidRecord, Ledger } from "../../state/types.ts";
import type { BidIntent, BidPlacer, DecidedBids } from "./bid-intent.ts";

/** Bids of a round under way at once (the shared HTTP pool has 16 connections). */
export const BID_CONCURRENCY = 16;

/** One bid of the round with the placer of its agent. */
interface Placing {
  intent: BidIntent;
  placer: BidPlacer;
}

/**
 * Places a round's bids: concurrently through a bounded pool, then one ledger write
 * for all that the marketplace took (one SQLite transaction, one MongoDB bulkWrite).
 * A bid placed but not recorded is still known: the marketplace's bid list is checked
 * before any bid on the job after a restart. Returns how many bids the marketplace took.
 */
export async function placeRound(
  shares: readonly DecidedBids[],
  ledger: Pick<Ledger, "recordBids" | "recordBid" | "fenceJobs">,
  concurrency = BID_CONCURRENCY,
): Promise<number> {
  const round = shares.flatMap(({ placer, intents }) =>
    intents.map((intent) => ({ intent, placer })),
  );
  const sendable = await fenceRound(round, ledger);
  const sent = await mapBounded(sendable, concurrency, async (p) => {
    const bidId = await p.placer.send(p.intent);
    return bidId === undefined ? undefined : { ...p, bidId };
  });
  const placed = sent.filter((s): s is Placing & { bidId: string } => s !== undefined);
  if (placed.length === 0) return 0;
  try {
    await ledger.recordBids(placed.map(({ intent, bidId }) => bidRecord(intent, bidId)));
  } catch (error) {
    if (isStaleEpoch(error)) {
      // The batch is all or nothing: one agent lost its lease meanwhile. Each bid is
      // recorded alone, so only the fenced agents lose their records (and are dropped).
      await Promise.all(placed.map((p) => recordOne(ledger, p, p.bidId)));
    } else {
      for (const { intent, placer } of placed) placer.unrecorded(intent, error);
    }
  }
  for (const { intent, placer, bidId } of placed) placer.placed(intent, bidId);
  return placed.length;
}

function bidRecord(intent: BidIntent, bidId: string): BidRecord {
  return {
    agentId: intent.agentId,
    jobId: intent.job.job_id,
    bidId,
    priceUsd: intent.decision.priceUsd,
    ...(intent.epoch !== undefined ? { epoch: intent.epoch } : {}),
  };
}

/**
 * Replicas: each job is stamped with its agent's lease epoch before the bid goes out, in
 * one ledger write for the round. Returns the bids that may be sent: not those of an
 * agent a newer holder has (fenced), nor any fenced one while the ledger cannot be
 * written (those jobs are decided again at the next poll).
 */
async function fenceRound(
  round: readonly Placing[],
  ledger: Pick<Ledger, "fenceJobs">,
): Promise<readonly Placing[]> {
  const leased = round.filter(({ intent }) => intent.epoch !== undefined);
  if (leased.length === 0) return round;
  let refusals: Awaited<ReturnType<Ledger["fenceJobs"]>>;
  try {
    refusals = await ledger.fenceJobs(
      leased.map(({ intent }) => ({
        agentId: intent.agentId,
        jobId: intent.job.job_id,
        epoch: intent.epoch ?? 0,
      })),
    );
  } catch (error) {
    for (const { intent, placer } of leased) placer.unfenced(intent, error);
    return round.filter(({ intent }) => intent.epoch === undefined);
  }
  const refused = new Set<Placing>();
  refusals.forEach((refusal, i) => {
    const p = leased[i];
    if (!refusal || !p) return;
    refused.add(p);
    p.placer.fenced(refusal);
  });
  return refused.size === 0 ? round : round.filter((p) => !refused.has(p));
}

async function recordOne(
  ledger: Pick<Ledger, "recordBid">,
  { intent, placer }: Placing,
  bidId: string,
): Promise<void> {
  const { agentId, jobId, priceUsd, epoch } = bidRecord(intent, bidId);
  try {
    await ledger.recordBid(agentId, jobId, { bidId, priceUsd }, epoch);
  } catch (error) {
    if (isStaleEpoch(error)) placer.fenced(error);
    else placer.unrecorded(intent, error);
  }
}
