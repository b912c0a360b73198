// @ts-check
// The two per-minute charts of the last hour, built from the events the page holds.
import { byId } from "./dom.js";
import { clock, fmtInt, fmtTokens, fmtUsd, serverNow } from "./format.js";
import { events } from "./timeline.js";
import uPlot from "./uplot.esm.js";

const WINDOW_MINUTES = 60;
const HEIGHT = 220;

const COLORS = {
  bid: "#2563eb",
  won: "#15803d",
  result: "#7c3aed",
  tokens: "#0e7490",
  cost: "#c2410c",
};

/** @type {{ activity: uPlot, llm: uPlot } | null} */
let charts = null;
let dirty = true;

/** Per-minute buckets over the last hour. */
function buckets() {
  const nowMin = Math.floor(serverNow() / 60000);
  const start = nowMin - WINDOW_MINUTES + 1;
  /** @type {number[]} */
  const xs = [];
  /** @type {Record<"bid" | "won" | "result" | "tokens" | "cost", number[]>} */
  const series = { bid: [], won: [], result: [], tokens: [], cost: [] };
  for (let i = 0; i < WINDOW_MINUTES; i += 1) {
    xs.push((start + i) * 60);
    for (const list of Object.values(series)) list.push(0);
  }
  /** @param {number[]} list @param {number} i @param {number} n */
  const add = (list, i, n) => {
    list[i] = (list[i] ?? 0) + n;
  };
  for (const e of events) {
    const i = Math.floor(Date.parse(e.at) / 60000) - start;
    if (i < 0 || i >= WINDOW_MINUTES) continue;
    if (e.kind === "bid" || e.kind === "won" || e.kind === "result") add(series[e.kind], i, 1);
    if (e.tokens) add(series.tokens, i, e.tokens);
    if (e.costUsd) add(series.cost, i, e.costUsd);
  }
  return { xs, series };
}

/** @param {HTMLElement} el */
const chartWidth = (el) => Math.max(280, Math.floor(el.clientWidth));

/** Room for the first and last bar at the window's edges. @type {uPlot.Scale.Range} */
const padX = (_u, min, max) => [min - 40, max + 40];

/**
 * The time axis in 24-hour clock like the rest of the page (uPlot's default is 12-hour).
 * The labels drawn last are kept on the chart's element: the canvas holds no text.
 * @param {HTMLElement} el
 * @returns {uPlot.Axis.DynamicValues}
 */
const clockTicks = (el) => (_u, splits) => {
  const labels = splits.map((s) => clock(s * 1000));
  el.dataset.xTicks = labels.join(" ");
  return labels;
};

/** The legend's time at the cursor, also 24-hour. @type {uPlot.Series.Value} */
const clockValue = (_u, v) => (v === null || v === undefined ? "—" : clock(v * 1000));

const AXIS = {
  stroke: "#4b5563",
  grid: { stroke: "#eceef2", width: 1 },
  ticks: { stroke: "#d7dbe1", width: 1 },
};

/**
 * Counts per minute are bars; nested widths keep bids, wins and results readable together
 * (results <= wins <= bids, so the narrower bars sit inside the wider).
 * @param {string} label @param {string} color @param {number} size @param {string} alpha
 * @param {uPlot.Series} [extra]
 * @returns {uPlot.Series}
 */
const bars = (label, color, size, alpha, extra) => ({
  label,
  stroke: color,
  width: 1,
  fill: `${color}${alpha}`,
  paths: uPlot.paths.bars?.({ size: [size, 28], align: 0 }),
  points: { show: false },
  ...extra,
});

/** Both charts: their size and a cursor that does not zoom. @param {HTMLElement} el */
const frame = (el) => ({
  width: chartWidth(el),
  height: HEIGHT,
  cursor: { drag: { x: false, y: false } },
});

/** The last hour, minute by minute. @type {uPlot.Scale} */
const X_SCALE = { time: true, range: padX };

/** @param {HTMLElement} el @returns {uPlot.Axis} */
const xAxis = (el) => ({ ...AXIS, space: 70, values: clockTicks(el) });

/** @param {HTMLElement} el */
function activityChart(el) {
  return new uPlot(
    {
      ...frame(el),
      scales: {
        x: X_SCALE,
        y: { range: (_u, _min, max) => [0, Math.max(3, Math.ceil(max * 1.2))] },
      },
      axes: [xAxis(el), { ...AXIS, size: 40 }],
      series: [
        { label: "minute", value: clockValue },
        bars("Bids", COLORS.bid, 0.9, "33"),
        bars("Wins", COLORS.won, 0.6, "99"),
        bars("Results", COLORS.result, 0.3, "ee"),
      ],
    },
    [[], [], [], []],
    el,
  );
}

/** @param {HTMLElement} el */
function llmChart(el) {
  return new uPlot(
    {
      ...frame(el),
      scales: {
        x: X_SCALE,
        tokens: { range: (_u, _min, max) => [0, Math.max(1000, max * 1.2)] },
        usd: { range: (_u, _min, max) => [0, Math.max(0.001, max * 1.2)] },
      },
      axes: [
        xAxis(el),
        {
          ...AXIS,
          scale: "tokens",
          size: 52,
          values: (_u, ticks) => ticks.map((v) => fmtTokens(v)),
        },
        {
          ...AXIS,
          scale: "usd",
          side: 1,
          size: 64,
          grid: { show: false },
          values: (_u, ticks) => ticks.map((v) => `$${v.toFixed(v < 0.01 ? 4 : 3)}`),
        },
      ],
      series: [
        { label: "minute", value: clockValue },
        bars("Tokens", COLORS.tokens, 0.7, "88", {
          scale: "tokens",
          value: (_u, v) => (v === null ? "—" : fmtInt(v)),
        }),
        {
          // Cost as dots on its own axis: a line between sparse minutes would mislead.
          label: "Cost",
          scale: "usd",
          stroke: COLORS.cost,
          fill: COLORS.cost,
          width: 2,
          paths: () => null,
          points: { show: true, size: 7, fill: COLORS.cost, stroke: COLORS.cost },
          value: (_u, v) => (v === null ? "—" : fmtUsd(v, 4)),
        },
      ],
    },
    [[], [], []],
    el,
  );
}

export function makeCharts() {
  const activityEl = byId("chart-activity");
  const llmEl = byId("chart-llm");
  const made = { activity: activityChart(activityEl), llm: llmChart(llmEl) };
  charts = made;
  const resize = new ResizeObserver(() => {
    made.activity.setSize({ width: chartWidth(activityEl), height: HEIGHT });
    made.llm.setSize({ width: chartWidth(llmEl), height: HEIGHT });
  });
  resize.observe(activityEl);
  resize.observe(llmEl);
}

/** Redraws at the next frame (events arrived, or the window slid). */
export function chartsChanged() {
  dirty = true;
  requestAnimationFrame(renderCharts);
}

function renderCharts() {
  if (!dirty || !charts) return;
  dirty = false;
  const { xs, series } = buckets();
  charts.activity.setData([xs, series.bid, series.won, series.result]);
  // Empty minutes get no bar and no dot (not a zero-height outline).
  /** @param {number[]} list */
  const gaps = (list) => list.map((v) => (v > 0 ? v : null));
  charts.llm.setData([xs, gaps(series.tokens), gaps(series.cost)]);
}
