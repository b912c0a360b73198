import type { Job } from "../../marketplace/schemas.ts";
import type { Anomaly, SeriesAnalysis } from "../tools/anomaly.ts";
import type { AnomalyToolResult } from "../tools/catalog.ts";
import { notesSection, num, table } from "../tools/markdown.ts";

/** AnomalyHunter's deliverable: every flagged point in a table, the method and its parameters. */

const MAX_ROWS = 200;

interface Flagged {
  series: string;
  anomaly: Anomaly;
}

function flagged(analyses: readonly SeriesAnalysis[]): Flagged[] {
  return analyses.flatMap((a) => a.anomalies.map((anomaly) => ({ series: a.name, anomaly })));
}

function range(a: Anomaly): string {
  return `${num(a.expectedLow)} … ${num(a.expectedHigh)}`;
}

export function findingsTable(analyses: readonly SeriesAnalysis[]): string {
  const rows = flagged(analyses);
  if (rows.length === 0) return "No point was flagged: every value lies within its expected range.";
  const shown = rows
    .slice(0, MAX_ROWS)
    .map(({ series, anomaly: a }, i) => [
      i + 1,
      series,
      a.at,
      num(a.value),
      range(a),
      num(a.score, 3),
      a.severity,
      a.kind,
      a.methods.join("; "),
    ]);
  const more =
    rows.length > MAX_ROWS ? `\n\n(${rows.length - MAX_ROWS} more flagged points not shown.)` : "";
  return (
    table(
      [
        "#",
        "series",
        "time / index",
        "value",
        "expected range",
        "score",
        "severity",
        "kind",
        "method",
      ],
      shown,
    ) + more
  );
}

function profileTable(analyses: readonly SeriesAnalysis[]): string {
  return table(
    [
      "series",
      "points",
      "median",
      "robust σ",
      "trend per step",
      "season (period, autocorrelation)",
      "baseline window",
      "z threshold",
    ],
    analyses.map((a) => [
      a.name,
      a.points,
      num(a.median),
      num(a.sigma),
      num(a.trendPerStep, 3),
      a.period ? `${a.period} (${num(a.periodAcf ?? 0, 2)})` : "none evident",
      a.window,
      num(a.zThreshold, 3),
    ]),
  );
}

function summary(analyses: readonly SeriesAnalysis[]): string[] {
  const rows = flagged(analyses);
  const count = (s: string) => rows.filter((r) => r.anomaly.severity === s).length;
  const shifts = rows.filter((r) => r.anomaly.kind === "level shift").length;
  const points = analyses.reduce((s, a) => s + a.points, 0);
  const seasonal = analyses.filter((a) => a.period);
  return [
    `- Analysed ${analyses.length} series (${points} points in all): ${analyses.map((a) => a.name).join("; ")}.`,
    `- Flagged ${rows.length} anomal${rows.length === 1 ? "y" : "ies"}: ${count("high")} high, ${count("medium")} medium, ${count("low")} low severity; ${shifts} level shift${shifts === 1 ? "" : "s"}.`,
    seasonal.length > 0
      ? `- Seasonality: ${seasonal.map((a) => `period ${a.period} in ${a.name}`).join("; ")}; the seasonal profile is part of the baseline.`
      : "- Seasonality: none evident (no clear autocorrelation peak).",
  ];
}

function method(result: AnomalyToolResult): string {
  const p = result.params;
  return [
    "## Method and parameters",
    "",
    "1. **Baseline**: a centred rolling median (it ignores single spikes and keeps level shifts sharp). When the autocorrelation of the linearly detrended series has a clear peak, its lag is the season's period: the window spans one period and the median seasonal profile is added to the baseline.",
    "2. **Point anomalies**: the residual (value − baseline) is scored with the robust z-score |r − median(r)| / (1.4826 · MAD) and checked against Tukey's IQR fences on the residuals. The z threshold rises with the number of points (Bonferroni), so that clean data of any length expects fewer than one false alarm.",
    "3. **Level shifts** (change points): a step of the rolling median within a few points, confirmed when the medians of the windows before and after differ by more than the shift threshold.",
    "4. **Severity**: high at 2.5 × the threshold or more, medium at 1.5 ×, low otherwise. The expected range is the baseline ± threshold × robust σ.",
    "",
    table(
      ["parameter", "value"],
      [
        ["robust z threshold (minimum)", p.zThreshold],
        ["expected false alarms per clean series", p.falseAlarmRate],
        ["IQR fence multiplier k", p.iqrK],
        ["level-shift threshold (robust σ)", p.shiftSigmas],
        ["minimum autocorrelation for a season", p.minSeasonalAcf],
        ["longest period looked for", p.maxPeriod],
      ],
    ),
  ].join("\n");
}

const NO_DATA = [
  "No numeric series could be read from this job, so no point could be checked.",
  "",
  "To get a full analysis, give the data in one of these forms: a CSV with a timestamp column and one or more value columns, a JSON array of records (or of numbers), a plain list of numbers, or log lines with `key=value` numbers, pasted in a fenced code block or attached as a `.csv`, `.json` or `.log` file.",
].join("\n");

/** The facts the LLM explains: the tables, nothing else. */
export function anomalyFacts(result: AnomalyToolResult): string {
  return [
    ...summary(result.analyses),
    "",
    "Flagged points:",
    findingsTable(result.analyses),
    "",
    "Series profile:",
    profileTable(result.analyses),
  ].join("\n");
}

export function anomalyReport(
  job: Job,
  result: AnomalyToolResult | null,
  toolError: string | null,
  notes: readonly string[],
  interpretation: string | null,
): string {
  const parts = [`# Anomaly report: ${job.title}`, ""];
  if (!result || result.analyses.length === 0) {
    parts.push("## Summary", "", NO_DATA);
    if (interpretation) parts.push("", "## Approach (language model)", "", interpretation);
  } else {
    parts.push(
      "## Summary",
      "",
      ...summary(result.analyses),
      "",
      "## Findings",
      "",
      findingsTable(result.analyses),
      "",
      "## Series profile",
      "",
      profileTable(result.analyses),
      "",
      method(result),
    );
    if (interpretation)
      parts.push(
        "",
        "## Likely causes and recommendations (language model, from the facts above)",
        "",
        interpretation,
      );
  }
  const allNotes = [...notes, ...(result?.notes ?? [])];
  if (toolError) allNotes.push(`The analysis could not run: ${toolError}.`);
  const notesText = notesSection(allNotes);
  if (notesText) parts.push("", notesText);
  return parts.join("\n");
}
