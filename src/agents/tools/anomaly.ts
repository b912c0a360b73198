import {
  linearRegression,
  linearRegressionLine,
  median,
  probit,
  quantileSorted,
} from "simple-statistics";
import type { Series } from "./series.ts";
import type { Severity } from "./types.ts";

/**
 * Robust anomaly detection on one numeric series, in four steps:
 * 1. seasonality: the first clear peak of the autocorrelation of the linearly
 *    detrended series gives the period (when there is one);
 * 2. baseline: a centred rolling median (which keeps level shifts sharp and ignores
 *    spikes) plus, with a period, the median seasonal profile;
 * 3. points: robust z-scores of the residuals (median/MAD) and IQR fences on them;
 * 4. level shifts: sharp steps of the rolling median, confirmed by comparing the
 *    medians of the windows either side.
 */

export interface AnomalyParams {
  /** |robust z| above this flags a point (Iglewicz and Hoaglin's 3.5); see falseAlarmRate. */
  zThreshold: number;
  /** Expected false alarms per clean series: the z bar rises with the number of points. */
  falseAlarmRate: number;
  /** Residuals beyond Q1 − k·IQR or Q3 + k·IQR are flagged. */
  iqrK: number;
  /** A step of the baseline larger than this many robust sigmas is a level shift. */
  shiftSigmas: number;
  /** Lowest autocorrelation at a lag peak for it to count as a season. */
  minSeasonalAcf: number;
  /** Longest period looked for. */
  maxPeriod: number;
}

export const DEFAULT_ANOMALY_PARAMS: AnomalyParams = {
  zThreshold: 3.5,
  falseAlarmRate: 0.01,
  iqrK: 3,
  shiftSigmas: 5,
  minSeasonalAcf: 0.5,
  maxPeriod: 1000,
};

export interface Anomaly {
  index: number;
  /** The timestamp of the point, or its index as text. */
  at: string;
  value: number;
  expectedLow: number;
  expectedHigh: number;
  /** |robust z| for points; the step in robust sigmas for level shifts. */
  score: number;
  severity: Severity;
  kind: "point" | "level shift";
  methods: string[];
  /** For a level shift: the median level before and after it. */
  levels?: { before: number; after: number };
}

export interface SeriesAnalysis {
  name: string;
  points: number;
  median: number;
  /** The robust sigma of the residuals (1.4826 × MAD). */
  sigma: number;
  period: number | null;
  periodAcf: number | null;
  /** Slope of the linear trend per step. */
  trendPerStep: number;
  window: number;
  /** The z bar used for this series (at least `zThreshold`, higher for long series). */
  zThreshold: number;
  iqrFence: [number, number];
  anomalies: Anomaly[];
}

/**
 * Centred rolling median over a sorted sliding window. With `leaveOut`, each point's
 * median is of its neighbours only, so a point cannot pull its own baseline towards it
 * (which would make the residuals' MAD understate the noise and raise false alarms).
 */
export function rollingMedian(
  values: readonly number[],
  window: number,
  leaveOut = false,
): number[] {
  const n = values.length;
  const half = Math.floor(window / 2);
  const out = new Array<number>(n);
  const sorted: number[] = [];
  /** Where `v` is, or would go, in the sorted window. */
  const lowerBound = (v: number) => {
    let lo = 0;
    let hi = sorted.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (sorted[mid]! < v) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
  const insert = (v: number) => sorted.splice(lowerBound(v), 0, v);
  const remove = (v: number) => sorted.splice(lowerBound(v), 1);
  let left = 0;
  let right = -1;
  // Near the ends the window keeps its full width (shifted inwards) rather than
  // shrinking to one side, which would follow a season or a trend into false alarms.
  const width = Math.min(n, 2 * half + 1);
  for (let i = 0; i < n; i++) {
    const wantLeft = Math.min(Math.max(0, i - half), n - width);
    const wantRight = wantLeft + width - 1;
    while (right < wantRight) insert(values[++right]!);
    while (left < wantLeft) remove(values[left++]!);
    const leave = leaveOut && sorted.length > 1;
    if (leave) remove(values[i]!);
    const m = sorted.length;
    out[i] = m % 2 ? sorted[(m - 1) >> 1]! : (sorted[m / 2 - 1]! + sorted[m / 2]!) / 2;
    if (leave) insert(values[i]!);
  }
  return out;
}

/** The first clear autocorrelation peak (lag ≥ 2, at least three cycles in the data). */
export function detectPeriod(
  values: readonly number[],
  params: AnomalyParams,
): { period: number; acf: number } | null {
  const n = values.length;
  const maxLag = Math.min(params.maxPeriod, Math.floor(n / 3));
  if (maxLag < 3) return null;
  const line = linearRegressionLine(linearRegression(values.map((v, i) => [i, v])));
  const x = values.map((v, i) => v - line(i));
  // Spikes should not make or break a season: clip at robust ±5σ before correlating.
  const med = median(x);
  const mad = median(x.map((v) => Math.abs(v - med))) * 1.4826 || 1e-12;
  const clipped = x.map((v) => Math.max(med - 5 * mad, Math.min(med + 5 * mad, v)) - med);
  let variance = 0;
  for (const v of clipped) variance += v * v;
  if (variance === 0) return null;
  const acf = [1];
  for (let lag = 1; lag <= maxLag + 1; lag++) {
    let sum = 0;
    for (let i = lag; i < n; i++) sum += clipped[i]! * clipped[i - lag]!;
    acf.push(sum / variance);
  }
  let lowest = 1;
  for (let lag = 2; lag <= maxLag; lag++) {
    lowest = Math.min(lowest, acf[lag - 1]!);
    const here = acf[lag]!;
    if (
      here >= params.minSeasonalAcf &&
      here > acf[lag - 1]! &&
      here >= acf[lag + 1]! &&
      here - lowest > 0.3
    ) {
      return { period: lag, acf: here };
    }
  }
  return null;
}

function severityOf(score: number, threshold: number): Severity {
  if (score >= threshold * 2.5) return "high";
  if (score >= threshold * 1.5) return "medium";
  return "low";
}

function oddAtLeast(value: number, min: number): number {
  const v = Math.max(min, Math.round(value));
  return v % 2 ? v : v + 1;
}

export function analyseSeries(
  series: Series,
  params: AnomalyParams = DEFAULT_ANOMALY_PARAMS,
): SeriesAnalysis {
  const values = series.values;
  const n = values.length;
  const label = (i: number) => series.labels?.[i] ?? String(i);
  const seasonal = detectPeriod(values, params);
  const period = seasonal?.period ?? null;
  // The window spans a season (so the season is not absorbed) or about 5 % of the data.
  const window = period ? oddAtLeast(period, 5) : oddAtLeast(Math.min(51, n / 20), 11);
  const trend = rollingMedian(values, window);
  const detrended = values.map((v, i) => v - trend[i]!);
  const profile: number[] = [];
  if (period) {
    for (let phase = 0; phase < period; phase++) {
      const same: number[] = [];
      for (let i = phase; i < n; i += period) same.push(detrended[i]!);
      profile.push(median(same));
    }
  }
  // Residuals are taken against each point's neighbours (leave-one-out), the trend
  // above (with the point) serves the seasonal profile and the level-shift test.
  const neighbours = rollingMedian(
    period ? values.map((v, i) => v - profile[i % period]!) : values,
    window,
    true,
  );
  const baseline = values.map((_, i) => neighbours[i]! + (period ? profile[i % period]! : 0));
  const residual = values.map((v, i) => v - baseline[i]!);
  const sortedResidual = [...residual].sort((a, b) => a - b);
  const residualMedian = quantileSorted(sortedResidual, 0.5);
  const mad = median(residual.map((r) => Math.abs(r - residualMedian)));
  // A flat series has MAD 0: fall back to the mean absolute deviation, then to a tiny unit.
  const meanAbs = residual.reduce((s, r) => s + Math.abs(r - residualMedian), 0) / n;
  const sigma = mad > 0 ? 1.4826 * mad : meanAbs > 0 ? 1.2533 * meanAbs : 0;
  const q1 = quantileSorted(sortedResidual, 0.25);
  const q3 = quantileSorted(sortedResidual, 0.75);
  const iqr = q3 - q1;
  const fenceLow = q1 - params.iqrK * iqr;
  const fenceHigh = q3 + params.iqrK * iqr;

  // With many points a few |z| > 3.5 happen by chance: the bar rises with n so that
  // clean data expects fewer than `falseAlarmRate` false alarms in all (Bonferroni).
  const zThreshold = Math.max(params.zThreshold, probit(1 - params.falseAlarmRate / (2 * n)));
  const anomalies: Anomaly[] = [];
  const band = zThreshold * sigma;
  for (let i = 0; i < n; i++) {
    const r = residual[i]! - residualMedian;
    const z = sigma > 0 ? Math.abs(r) / sigma : r === 0 ? 0 : Number.POSITIVE_INFINITY;
    const methods: string[] = [];
    if (z > zThreshold) methods.push(`robust z (median/MAD) > ${round(zThreshold)}`);
    if (iqr > 0 && (residual[i]! < fenceLow || residual[i]! > fenceHigh))
      methods.push(`IQR fence (k=${params.iqrK})`);
    if (methods.length === 0) continue;
    const expected = baseline[i]! + residualMedian;
    anomalies.push({
      index: i,
      at: label(i),
      value: values[i]!,
      expectedLow: expected - band,
      expectedHigh: expected + band,
      score: z,
      severity: severityOf(z, zThreshold),
      kind: "point",
      methods: [
        ...methods,
        period ? `seasonal baseline (period ${period})` : `rolling median (window ${window})`,
      ],
    });
  }
  const shifts = levelShifts(values, trend, window, sigma, zThreshold, params, label);
  // Points next to a level shift that sit at either level belong to the shift.
  const explained = (a: Anomaly) =>
    shifts.some(
      (s) =>
        Math.abs(s.index - a.index) <= window / 2 &&
        a.value >= Math.min(s.levels!.before, s.levels!.after) - band &&
        a.value <= Math.max(s.levels!.before, s.levels!.after) + band,
    );
  const result = [...anomalies.filter((a) => !explained(a)), ...shifts];
  result.sort((a, b) => a.index - b.index);

  const trendLine = linearRegression(values.map((v, i) => [i, v]));
  return {
    name: series.name,
    points: n,
    median: median(values),
    sigma,
    period,
    periodAcf: seasonal?.acf ?? null,
    trendPerStep: trendLine.m,
    window,
    zThreshold,
    iqrFence: [fenceLow, fenceHigh],
    anomalies: result,
  };
}

/**
 * Level shifts: where the rolling median steps by more than `shiftSigmas` robust sigmas
 * within a few points, and the medians of the windows before and after differ as much.
 * A steady trend moves the rolling median a little at every step and is not a shift.
 */
function levelShifts(
  values: readonly number[],
  trend: readonly number[],
  window: number,
  sigma: number,
  zThreshold: number,
  params: AnomalyParams,
  label: (i: number) => string,
): Anomaly[] {
  const n = values.length;
  const span = 2;
  if (sigma <= 0 || n < 2 * window + 2 * span) return [];
  const steps: { index: number; size: number }[] = [];
  for (let i = span; i < n - span; i++) {
    steps.push({ index: i, size: trend[i + span - 1]! - trend[i - span]! });
  }
  const typical = median(steps.map((s) => Math.abs(s.size))) || 0;
  const threshold = Math.max(params.shiftSigmas * sigma, 10 * typical);
  const found: Anomaly[] = [];
  const candidates = steps
    .filter((s) => Math.abs(s.size) > threshold)
    .sort((a, b) => Math.abs(b.size) - Math.abs(a.size));
  const taken: number[] = [];
  for (const candidate of candidates) {
    if (taken.some((t) => Math.abs(t - candidate.index) < window)) continue;
    // Where exactly: the first point whose value is nearer the new level.
    const from = Math.max(0, candidate.index - window);
    const to = Math.min(n, candidate.index + window);
    const before = median(values.slice(from, candidate.index));
    const after = median(values.slice(candidate.index, to));
    const shift = after - before;
    if (Math.abs(shift) < params.shiftSigmas * sigma) continue;
    let at = candidate.index;
    for (
      let i = Math.max(from, candidate.index - span - 1);
      i <= Math.min(n - 1, candidate.index + span);
      i++
    ) {
      if (Math.abs(values[i]! - after) < Math.abs(values[i]! - before)) {
        at = i;
        break;
      }
    }
    taken.push(candidate.index);
    const score = Math.abs(shift) / sigma;
    found.push({
      index: at,
      at: label(at),
      value: values[at]!,
      expectedLow: before - zThreshold * sigma,
      expectedHigh: before + zThreshold * sigma,
      score,
      severity: severityOf(score, params.shiftSigmas),
      kind: "level shift",
      levels: { before, after },
      methods: [
        `level-shift test (median ${round(before)} → ${round(after)}, windows of ${window})`,
      ],
    });
  }
  return found;
}

function round(value: number): number {
  return Number(value.toPrecision(4));
}
