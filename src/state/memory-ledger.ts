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
  isOpenStake,
  type LedgerBackend,
  type LedgerCommonOptions,
  sameBid,
  stampEach,
  totalsOf,
} from "./common.ts";
import { checkEpoch, StaleEpochError } from "./fence.ts";
import { checkEarned, cleanPayment } from "./payments.ts";
import type {
  EarnedSeen,
  Ledger,
  LedgerEntry,
  LedgerSummary,
  OfferAnswer,
  PaymentRecord,
} from "./types.ts";

/** Orders pending results oldest first, ties broken by key so every backend agrees. */
export function comparePending(a: LedgerEntry, b: LedgerEntry): number {
  // ISO times compare as strings; localeCompare would load ICU's collator (about 9 MB).
  const [x, y] = [a.resultAt ?? "", b.resultAt ?? ""];
  if (x !== y) return x < y ? -1 : 1;
  if (a.agentId !== b.agentId) return a.agentId < b.agentId ? -1 : 1;
  return a.jobId < b.jobId ? -1 : a.jobId > b.jobId ? 1 : 0;
}

export function isPending(entry: LedgerEntry): boolean {
  return (
    entry.resultAt !== undefined && entry.acceptedAt === undefined && entry.closedAt === undefined
  );
}

/** Accepted or closed: no fenced write touches it again. */
export function isSettled(entry: LedgerEntry): boolean {
  return entry.acceptedAt !== undefined || entry.closedAt !== undefined;
}

/** A ledger in a Map, for unit tests of other parts; same semantics as the durable ones. */
export function createMemoryLedger(options: LedgerCommonOptions = {}): Ledger {
  const clock = options.now ?? Date.now;
  const entries = new Map<string, LedgerEntry>();
  const walletIndexes = new Map<string, number>();
  const spend = new Map<string, number>();
  const offerAnswers = new Map<string, OfferAnswer>();
  const notes = new Set<string>();
  const payments = new Map<string, PaymentRecord>();
  const earned = new Map<string, EarnedSeen>();
  const fences = new Map<string, number>();
  let closed = false;

  const keyOf = (agentId: string, jobId: string): string => JSON.stringify([agentId, jobId]);
  const iso = (): string => new Date(clock()).toISOString();
  const open = (): void => {
    if (closed) throw new Error("ledger: closed");
  };

  /** Throws StaleEpochError when a newer epoch exists for the agent or the entry. */
  const checkFence = (agentId: string, jobId: string, epoch: number | undefined): void => {
    if (epoch === undefined) return;
    const newest = Math.max(
      fences.get(agentId) ?? 0,
      entries.get(keyOf(agentId, jobId))?.epoch ?? 0,
    );
    if (newest > epoch) throw new StaleEpochError(agentId, epoch, newest);
  };

  /** Finds or creates the entry, applies the change, and stamps it (with the epoch, if fenced). */
  const upsert = (
    agentId: string,
    jobId: string,
    change: (entry: LedgerEntry, now: string) => void,
    epoch?: number,
  ): LedgerEntry => {
    open();
    checkKey(agentId, jobId);
    checkEpoch(epoch);
    const key = keyOf(agentId, jobId);
    checkFence(agentId, jobId, epoch);
    const now = iso();
    const entry = entries.get(key) ?? {
      agentId,
      jobId,
      executionAttempts: 0,
      submitAttempts: 0,
      updatedAt: now,
    };
    change(entry, now);
    if (epoch !== undefined) entry.epoch = epoch;
    entry.updatedAt = now;
    entries.set(key, entry);
    return entry;
  };

  /** A new bid: a stake ended before (a cancelled bid) is open again. */
  const writeBid = (entry: LedgerEntry, bid: { bidId: string; priceUsd: number }, now: string) => {
    entry.bidId = bid.bidId;
    entry.bidPriceUsd = bid.priceUsd;
    entry.bidAt = now;
    delete entry.stakeEndedAt;
    delete entry.stakeEndedReason;
  };
  const liveBid = (entry: LedgerEntry | undefined): boolean =>
    entry?.bidAt !== undefined && entry.stakeEndedAt === undefined;

  const pending = (): LedgerEntry[] => [...entries.values()].filter(isPending).sort(comparePending);

  const backend: LedgerBackend = {
    backend: "memory",
    async hasBid(agentId, jobId) {
      open();
      return liveBid(entries.get(keyOf(agentId, jobId)));
    },
    async recordBid(agentId, jobId, bid, epoch) {
      checkPrice(bid.priceUsd);
      upsert(
        agentId,
        jobId,
        (entry, now) => {
          writeBid(entry, bid, now);
        },
        epoch,
      );
    },
    async recordBids(bids) {
      open();
      checkBids(bids);
      // Every fence first: one stale entry writes none.
      for (const bid of bids) checkFence(bid.agentId, bid.jobId, bid.epoch);
      for (const bid of bids) {
        upsert(
          bid.agentId,
          bid.jobId,
          (entry, now) => {
            writeBid(entry, bid, now);
          },
          bid.epoch,
        );
      }
    },
    async bidsOn(jobIds) {
      open();
      const wanted = new Set(jobIds);
      const found = new Map<string, Set<string>>();
      for (const entry of entries.values())
        if (liveBid(entry) && wanted.has(entry.jobId)) addBidder(found, entry.jobId, entry.agentId);
      return found;
    },
    async openStakes() {
      open();
      return [...entries.values()].filter(isOpenStake).map((entry) => structuredClone(entry));
    },
    async endStake(agentId, jobId, reason, bidId) {
      open();
      checkKey(agentId, jobId);
      const entry = entries.get(keyOf(agentId, jobId));
      if (!entry || entry.stakeEndedAt !== undefined || !sameBid(entry.bidId, bidId)) return false;
      entry.stakeEndedAt = iso();
      entry.stakeEndedReason = clip(reason);
      entry.updatedAt = entry.stakeEndedAt;
      return true;
    },
    async recordWon(agentId, jobId, epoch) {
      upsert(
        agentId,
        jobId,
        (entry, now) => {
          entry.wonAt ??= now;
        },
        epoch,
      );
    },
    async startExecution(agentId, jobId, epoch) {
      return upsert(
        agentId,
        jobId,
        (entry, now) => {
          entry.executionAttempts += 1;
          entry.executionStartedAt = now;
        },
        epoch,
      ).executionAttempts;
    },
    async recordResult(agentId, jobId, result, epoch) {
      const clean = cleanResult(result);
      upsert(
        agentId,
        jobId,
        (entry, now) => {
          entry.result = clean;
          entry.resultAt = now;
        },
        epoch,
      );
    },
    async fenceJobs(stamps) {
      return stampEach(stamps, ({ agentId, jobId, epoch }) => {
        upsert(agentId, jobId, () => {}, epoch);
      });
    },
    async raiseFence(agentId, epoch) {
      open();
      checkEpoch(epoch);
      const current = fences.get(agentId) ?? 0;
      if (current > epoch) throw new StaleEpochError(agentId, epoch, current);
      fences.set(agentId, epoch);
      for (const entry of entries.values()) {
        if (entry.agentId === agentId && !isSettled(entry) && (entry.epoch ?? 0) < epoch)
          entry.epoch = epoch;
      }
    },
    async markAccepted(agentId, jobId) {
      upsert(agentId, jobId, (entry, now) => {
        entry.acceptedAt ??= now;
      });
    },
    async closeResult(agentId, jobId, reason) {
      upsert(agentId, jobId, (entry, now) => {
        entry.closedReason = clip(reason);
        entry.closedAt = now;
      });
    },
    async recordSubmitFailure(agentId, jobId, error, nextSubmitAt) {
      checkEpochMs(nextSubmitAt);
      upsert(agentId, jobId, (entry) => {
        entry.submitAttempts += 1;
        entry.lastSubmitError = clip(error);
        entry.nextSubmitAt = nextSubmitAt;
      });
    },
    async get(agentId, jobId) {
      open();
      const entry = entries.get(keyOf(agentId, jobId));
      // A copy, so callers cannot change the ledger behind its back.
      return entry ? structuredClone(entry) : undefined;
    },
    async pendingResults(agentId) {
      open();
      return pending()
        .filter((entry) => agentId === undefined || entry.agentId === agentId)
        .map((entry) => structuredClone(entry));
    },
    async pendingCount() {
      open();
      return pending().length;
    },
    async walletIndex(agentKey) {
      open();
      checkName("agentKey", agentKey);
      let index = walletIndexes.get(agentKey);
      if (index === undefined) {
        index = walletIndexes.size;
        walletIndexes.set(agentKey, index);
      }
      return index;
    },
    async addSpend(day, agent, usd) {
      open();
      checkDay(day);
      checkName("agent", agent);
      checkUsd(usd);
      const key = JSON.stringify([day, agent]);
      spend.set(key, (spend.get(key) ?? 0) + usd);
    },
    async spendOn(day, agent) {
      open();
      let total = 0;
      for (const [key, usd] of spend) {
        const [d, a] = JSON.parse(key) as [string, string];
        if (d === day && (agent === undefined || a === agent)) total += usd;
      }
      return total;
    },
    async recordOfferAnswer(answer) {
      open();
      const clean = cleanOfferAnswer(answer);
      const key = JSON.stringify([clean.bidId, clean.offerIndex]);
      if (offerAnswers.has(key)) return false;
      offerAnswers.set(key, { ...clean, answeredAt: iso() });
      return true;
    },
    async offerAnswer(bidId, offerIndex) {
      open();
      const found = offerAnswers.get(JSON.stringify([bidId, offerIndex]));
      return found ? structuredClone(found) : undefined;
    },
    async noteOnce(key) {
      open();
      checkName("key", key);
      if (notes.has(key)) return false;
      notes.add(key);
      return true;
    },
    async recordPayment(payment) {
      open();
      const clean = cleanPayment(payment);
      if (payments.has(clean.jobId)) return false;
      payments.set(clean.jobId, { ...clean, recordedAt: iso() });
      return true;
    },
    async payment(jobId) {
      open();
      const found = payments.get(jobId);
      return found ? structuredClone(found) : undefined;
    },
    async paidTotals(agentId) {
      open();
      const mine = [...payments.values()].filter((p) => p.agentId === agentId);
      return { jobs: mine.length, paidUsd: mine.reduce((sum, p) => sum + p.amountUsd, 0) };
    },
    async unpaidResults(agentId) {
      open();
      return [...entries.values()]
        .filter(
          (e) =>
            e.agentId === agentId &&
            e.acceptedAt !== undefined &&
            e.result?.success === true &&
            !payments.has(e.jobId),
        )
        .sort((a, b) =>
          a.acceptedAt! < b.acceptedAt! ? -1 : a.acceptedAt! > b.acceptedAt! ? 1 : 0,
        )
        .map((e) => structuredClone(e));
    },
    async earnedSeen(agentId) {
      open();
      const found = earned.get(agentId);
      return found ? { ...found } : undefined;
    },
    async setEarnedSeen(agentId, usd) {
      open();
      checkEarned(agentId, usd);
      earned.set(agentId, { usd, since: earned.get(agentId)?.since ?? iso() });
    },
    async agentTotals(agentId: string) {
      open();
      return totalsOf([...entries.values()].filter((e) => e.agentId === agentId));
    },
    async summary(): Promise<LedgerSummary> {
      open();
      const all = [...entries.values()];
      return {
        backend: "memory",
        entries: all.length,
        bids: all.filter((e) => e.bidAt !== undefined).length,
        won: all.filter((e) => e.wonAt !== undefined).length,
        pendingResults: all.filter(isPending).length,
        accepted: all.filter((e) => e.acceptedAt !== undefined && e.result?.success).length,
        failed: all.filter(
          (e) => e.closedAt !== undefined || (e.acceptedAt !== undefined && !e.result?.success),
        ).length,
        closed: all.filter((e) => e.closedAt !== undefined).length,
      };
    },
    async close() {
      closed = true;
    },
  };
  return instrument(backend, options);
}
