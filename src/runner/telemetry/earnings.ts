import type { Logger } from "../../logger.ts";
import type { Metrics } from "../../metrics.ts";
import { errorMessage } from "../../secrets.ts";
import type { JobOutcome, OutcomeStore } from "../../state/outcomes.ts";

/**
 * What an agent earns, read from the ledger's outcomes (issue 25): win rate, the poster's
 * quality scores against the quality gate's predictions, LLM cost, paid, margin, and the
 * margin over time. One computation (`performanceOf`) feeds /api/status, the dashboard,
 * the metrics and `doctor`, so they cannot disagree.
 *
 * The figures cover a bounded window, the agent's newest `EARNINGS_WINDOW` outcome records
 * (newest bid first), read at most once per `maxAgeMs`: the status is asked for often.
 */
export const EARNINGS_WINDOW = 500;

/** Calibration buckets of the predicted quality: [0, 0.1), [0.1, 0.2), ... [0.9, 1]. */
export const CALIBRATION_BUCKETS = 10;
/** Earnings over time: the last 48 hours hour by hour, the last 30 days day by day. */
export const HOURLY_POINTS = 48;
export const DAILY_POINTS = 30;

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;

/** Predicted quality in [from, to): how many jobs, what was predicted and scored on average. */
export interface CalibrationBucket {
  from: number;
  to: number;
  count: number;
  meanPredicted: number | null;
  meanActual: number | null;
}

/** Money of a set of jobs: those with an LLM cost or a payment on record. */
export interface MoneyFigures {
  jobs: number;
  llmCostUsd: number;
  paidUsd: number;
  /** paidUsd − llmCostUsd. */
  marginUsd: number;
}

/** The money of the jobs whose latest fact fell in [start, start + one hour or day). */
export interface EarningsPoint extends MoneyFigures {
  start: string;
}

/** One agent's figures (GET /api/status `agents[].performance`). */
export interface AgentPerformance {
  /** The records read: at most `limit`, the oldest one's time (null: none). */
  window: { records: number; limit: number; oldestAt: string | null };
  /** Bids decided: won, lost; pending not yet. `winRate` = won / (won + lost). */
  bids: { won: number; lost: number; pending: number; winRate: number | null };
  quality: {
    /** Jobs with the poster's quality_score, and its mean. */
    scored: number;
    mean: number | null;
    /** Jobs with both a prediction and a score: their means and mean |predicted − actual|. */
    paired: number;
    meanPredicted: number | null;
    meanActual: number | null;
    meanAbsError: number | null;
    /** Every bucket, empty ones too (count 0, means null). */
    calibration: CalibrationBucket[];
  };
  /** Over the whole window. */
  money: MoneyFigures;
  /** The jobs whose latest fact fell in the last 24 hours (since `since`). */
  lastDay: MoneyFigures & { since: string };
  /** Non-empty buckets only, oldest first: UTC hours of the last 48 h, UTC days of the last 30. */
  hourly: EarningsPoint[];
  daily: EarningsPoint[];
}

/** USD to a millionth, so sums of floats read as the amounts they are. */
const usd = (n: number): number => Math.round(n * 1e6) / 1e6;
/** Ratios and scores to four places. */
const ratio = (n: number): number => Math.round(n * 1e4) / 1e4;
const mean = (sum: number, n: number): number | null => (n > 0 ? ratio(sum / n) : null);

/**
 * The time a record counts at: its latest fact (for a signed-off job its sign-off, for an
 * executed one its execution), else its bid.
 */
function timeOf(o: JobOutcome): number {
  const at = Date.parse(o.updatedAt ?? o.bidAt ?? "");
  return Number.isFinite(at) ? at : Number.NaN;
}

/** Won: awarded to us, or executed by us (its cost is on record) unless it says lost. */
function isWon(o: JobOutcome): boolean {
  return o.result === "won" || (o.result !== "lost" && o.llmCostUsd !== undefined);
}

const hasMoney = (o: JobOutcome): boolean => o.llmCostUsd !== undefined || o.paidUsd !== undefined;

class MoneySum {
  jobs = 0;
  cost = 0;
  paid = 0;
  add(o: JobOutcome): void {
    this.jobs += 1;
    this.cost += o.llmCostUsd ?? 0;
    this.paid += o.paidUsd ?? 0;
  }
  figures(): MoneyFigures {
    const llmCostUsd = usd(this.cost);
    const paidUsd = usd(this.paid);
    return { jobs: this.jobs, llmCostUsd, paidUsd, marginUsd: usd(paidUsd - llmCostUsd) };
  }
}

/** Sparse buckets of `sizeMs` (UTC-aligned), the last `points` of them up to `now`. */
function series(records: JobOutcome[], now: number, sizeMs: number, points: number) {
  const first = (Math.floor(now / sizeMs) - points + 1) * sizeMs;
  const buckets = new Map<number, MoneySum>();
  for (const o of records) {
    const at = timeOf(o);
    if (!(at >= first)) continue;
    const start = Math.floor(at / sizeMs) * sizeMs;
    let sum = buckets.get(start);
    if (!sum) {
      sum = new MoneySum();
      buckets.set(start, sum);
    }
    sum.add(o);
  }
  return [...buckets.entries()]
    .sort(([a], [b]) => a - b)
    .map(
      ([start, sum]): EarningsPoint => ({ start: new Date(start).toISOString(), ...sum.figures() }),
    );
}

/** The figures of one agent's outcome records at `now` (pure: the status, metrics and doctor share it). */
export function performanceOf(
  outcomes: readonly JobOutcome[],
  now: number,
  limit = EARNINGS_WINDOW,
): AgentPerformance {
  let won = 0;
  let lost = 0;
  let pending = 0;
  let scored = 0;
  let scoreSum = 0;
  let paired = 0;
  let predSum = 0;
  let actualSum = 0;
  let errorSum = 0;
  let oldest = Number.POSITIVE_INFINITY;
  const buckets = Array.from({ length: CALIBRATION_BUCKETS }, () => ({ n: 0, pred: 0, act: 0 }));
  const total = new MoneySum();
  const day = new MoneySum();
  const since = now - DAY_MS;
  const withMoney: JobOutcome[] = [];
  for (const o of outcomes) {
    const at = timeOf(o);
    if (at < oldest) oldest = at;
    if (isWon(o)) won += 1;
    else if (o.result === "lost") lost += 1;
    else if (o.result === "pending") pending += 1;
    const score = typeof o.qualityScore === "number" ? o.qualityScore : undefined;
    if (score !== undefined) {
      scored += 1;
      scoreSum += score;
      if (o.predictedQuality !== undefined) {
        paired += 1;
        predSum += o.predictedQuality;
        actualSum += score;
        errorSum += Math.abs(o.predictedQuality - score);
        const i = Math.min(
          CALIBRATION_BUCKETS - 1,
          Math.floor(o.predictedQuality * CALIBRATION_BUCKETS),
        );
        const b = buckets[Math.max(0, i)]!;
        b.n += 1;
        b.pred += o.predictedQuality;
        b.act += score;
      }
    }
    if (hasMoney(o)) {
      withMoney.push(o);
      total.add(o);
      if (at >= since) day.add(o);
    }
  }
  return {
    window: {
      records: outcomes.length,
      limit,
      oldestAt: Number.isFinite(oldest) ? new Date(oldest).toISOString() : null,
    },
    bids: { won, lost, pending, winRate: mean(won, won + lost) },
    quality: {
      scored,
      mean: mean(scoreSum, scored),
      paired,
      meanPredicted: mean(predSum, paired),
      meanActual: mean(actualSum, paired),
      meanAbsError: mean(errorSum, paired),
      calibration: buckets.map((b, i) => ({
        from: i / CALIBRATION_BUCKETS,
        to: (i + 1) / CALIBRATION_BUCKETS,
        count: b.n,
        meanPredicted: mean(b.pred, b.n),
        meanActual: mean(b.act, b.n),
      })),
    },
    money: total.figures(),
    lastDay: { since: new Date(since).toISOString(), ...day.figures() },
    hourly: series(withMoney, now, HOUR_MS, HOURLY_POINTS),
    daily: series(withMoney, now, DAY_MS, DAILY_POINTS),
  };
}

/**
 * Losing money for a day: the jobs of the last 24 hours cost more than they were paid,
 * and the agent's record reaches back a day (a new agent's first jobs awaiting their
 * sign-off are not a loss yet). The reason in words, or null.
 */
export function losingForADay(p: {
  window: Pick<AgentPerformance["window"], "oldestAt">;
  lastDay: AgentPerformance["lastDay"];
}): string | null {
  if (p.lastDay.jobs === 0 || p.lastDay.marginUsd >= 0) return null;
  if (p.window.oldestAt === null || Date.parse(p.window.oldestAt) > Date.parse(p.lastDay.since))
    return null;
  return `margin $${p.lastDay.marginUsd.toFixed(4)} over the last 24 h (paid $${p.lastDay.paidUsd.toFixed(4)}, LLM cost $${p.lastDay.llmCostUsd.toFixed(4)}, ${p.lastDay.jobs} job(s))`;
}

export interface EarningsBookOptions {
  outcomes: Pick<OutcomeStore, "outcomes">;
  /** How long one read of an agent's outcomes serves (the poll interval: once a poll). */
  maxAgeMs: number;
  limit?: number;
  now?: () => number;
  /**
   * A read failed: the agent shows no figures until a read works, tried again once
   * `maxAgeMs` has passed. Called once per run of failures (not at every ask).
   */
  onError?: (agentId: string, error: unknown) => void;
}

/** Each agent's figures, computed from at most `limit` outcomes, at most once per `maxAgeMs`. */
export class EarningsBook {
  readonly #options: EarningsBookOptions;
  readonly #limit: number;
  readonly #now: () => number;
  readonly #cache = new Map<string, { at: number; figures: Promise<AgentPerformance | null> }>();
  /** Agents whose last read failed (said once). */
  readonly #failing = new Set<string>();

  constructor(options: EarningsBookOptions) {
    this.#options = options;
    this.#limit = options.limit ?? EARNINGS_WINDOW;
    this.#now = options.now ?? Date.now;
  }

  /** The agent's figures; null while its outcomes cannot be read. */
  of(agentId: string): Promise<AgentPerformance | null> {
    const now = this.#now();
    const cached = this.#cache.get(agentId);
    if (cached && now - cached.at < this.#options.maxAgeMs) return cached.figures;
    const figures = this.#options.outcomes.outcomes(agentId, this.#limit).then(
      (outcomes) => {
        this.#failing.delete(agentId);
        return performanceOf(outcomes, now, this.#limit);
      },
      (error: unknown) => {
        if (!this.#failing.has(agentId)) this.#options.onError?.(agentId, error);
        this.#failing.add(agentId);
        return null;
      },
    );
    this.#cache.set(agentId, { at: now, figures });
    return figures;
  }
}

/** The status views with each registered agent's figures beside its counters. */
export async function withPerformance<V extends { agentId: string | null }>(
  views: V[],
  book: Pick<EarningsBook, "of">,
): Promise<Array<V & { performance?: AgentPerformance }>> {
  return Promise.all(
    views.map(async (view) => {
      const performance = view.agentId === null ? null : await book.of(view.agentId);
      return performance ? { ...view, performance } : view;
    }),
  );
}

/**
 * Brings the per-agent figure gauges up to date before each scrape (`agentFigures.refresh`
 * in metrics.ts), from the same book as the status. `agents` are the ids running now;
 * gauges of agents gone are dropped.
 */
export function watchEarnings(
  metrics: Metrics,
  book: Pick<EarningsBook, "of">,
  agents: () => Array<string | null | undefined>,
): void {
  let running: Promise<void> | undefined;
  const refresh = async (): Promise<void> => {
    const ids = agents().filter((id): id is string => typeof id === "string");
    const figures = await Promise.all(ids.map(async (id) => [id, await book.of(id)] as const));
    const gauges = [
      metrics.agentWinRate,
      metrics.agentQualityMean,
      metrics.agentQualityPredictionError,
      metrics.agentLlmCostUsd,
      metrics.agentPaidUsd,
      metrics.agentMarginUsd,
    ];
    for (const gauge of gauges) gauge.reset();
    for (const [agent, p] of figures) {
      if (!p) continue;
      const set = (gauge: (typeof gauges)[number], value: number | null) => {
        if (value !== null) gauge.set({ agent }, value);
      };
      set(metrics.agentWinRate, p.bids.winRate);
      set(metrics.agentQualityMean, p.quality.mean);
      set(metrics.agentQualityPredictionError, p.quality.meanAbsError);
      set(metrics.agentLlmCostUsd, p.money.llmCostUsd);
      set(metrics.agentPaidUsd, p.money.paidUsd);
      set(metrics.agentMarginUsd, p.money.marginUsd);
    }
  };
  metrics.agentFigures.refresh = () => {
    running ??= refresh().finally(() => {
      running = undefined;
    });
    return running;
  };
}

/**
 * The runner's book of earnings: one read of each agent's outcomes a poll, shared by the
 * status and the metrics (the gauges refresh from it at each scrape).
 */
export function openEarnings(options: {
  outcomes: Pick<OutcomeStore, "outcomes">;
  pollIntervalMs: number;
  metrics: Metrics;
  logger: Pick<Logger, "warn">;
  /** The agent ids running now (none yet: not registered). */
  agents: () => Array<string | null | undefined>;
}): EarningsBook {
  const book = new EarningsBook({
    outcomes: options.outcomes,
    maxAgeMs: options.pollIntervalMs,
    onError: (agentId, error) =>
      options.logger.warn(
        { agentId, problem: errorMessage(error) },
        "could not read the agent's outcomes: its earnings are not shown until a read works",
      ),
  });
  watchEarnings(options.metrics, book, options.agents);
  return book;
}
