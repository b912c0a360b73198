// @ts-check
// What each agent earns (issue 25): one table, the earnings-over-time chart and the quality
// gate's calibration, all read from each agent's `performance` in the snapshot (the runner's
// telemetry/earnings.ts computes it once; nothing here recomputes a figure another part shows).
import { byId, h } from "./dom.js";
import { clock, fmtInt, fmtUsd } from "./format.js";
import uPlot from "./uplot.esm.js";

/** @typedef {import("./types.ts").Snapshot} Snapshot */
/** @typedef {import("./types.ts").AgentView} AgentView */
/** @typedef {import("./types.ts").AgentPerformance} AgentPerformance */
/** @typedef {import("./types.ts").EarningsPoint} EarningsPoint */

const HEIGHT = 220;
const COLORS = { paid: "#15803d", cost: "#c2410c", margin: "#2457c5" };
const HOUR_S = 3600;
/** The chart's span: the hourly series the runner keeps (48 h). */
const HOURS = 48;

/** Money to a tenth of a cent, as the agent cards show it. */
const usd = (/** @type {number} */ n) => fmtUsd(n, 4);
/** @param {number | null} n */
const share = (n) => (n === null ? "—" : `${Math.round(n * 100)} %`);
/** @param {number | null} n */
const score = (n) => (n === null ? "—" : n.toFixed(2));

/** The agents with figures, each with its performance. @param {AgentView[]} agents */
function withFigures(agents) {
  /** @type {Array<{ agent: AgentView, p: AgentPerformance }>} */
  const list = [];
  for (const agent of agents) if (agent.performance) list.push({ agent, p: agent.performance });
  return list;
}

/**
 * @typedef {object} Column
 * @property {string} id testid of the cell (`earn-<id>`); the total row's is `earn-total-<id>`
 * @property {string} label
 * @property {string} hint what it means
 * @property {(p: AgentPerformance) => string} text
 * @property {(p: AgentPerformance) => number} [money] summed in the total row
 */

/** @type {Column[]} */
const COLUMNS = [
  {
    id: "win-rate",
    label: "Win rate",
    hint: "bids won / bids decided (won + lost); pending bids not counted",
    text: (p) =>
      `${share(p.bids.winRate)} (${fmtInt(p.bids.won)} of ${fmtInt(p.bids.won + p.bids.lost)})`,
  },
  {
    id: "quality",
    label: "Mean quality",
    hint: "mean of the posters' quality_score",
    text: (p) => `${score(p.quality.mean)} (${fmtInt(p.quality.scored)})`,
  },
  {
    id: "predicted",
    label: "Predicted → actual",
    hint: "jobs with both a prediction and a score: mean predicted quality → mean quality_score",
    text: (p) => `${score(p.quality.meanPredicted)} → ${score(p.quality.meanActual)}`,
  },
  {
    id: "error",
    label: "Prediction error",
    hint: "mean |predicted − quality_score| of those jobs",
    text: (p) => score(p.quality.meanAbsError),
  },
  {
    id: "llm-cost",
    label: "LLM cost",
    hint: "estimated LLM cost of the jobs in the window",
    text: (p) => usd(p.money.llmCostUsd),
    money: (p) => p.money.llmCostUsd,
  },
  {
    id: "paid",
    label: "Paid",
    hint: "paid at sign-off for the jobs in the window",
    text: (p) => usd(p.money.paidUsd),
    money: (p) => p.money.paidUsd,
  },
  {
    id: "margin",
    label: "Margin",
    hint: "paid − LLM cost",
    text: (p) => usd(p.money.marginUsd),
    money: (p) => p.money.marginUsd,
  },
  {
    id: "margin-day",
    label: "Margin 24 h",
    hint: "paid − LLM cost of the jobs whose latest fact was in the last 24 hours (doctor warns when it is negative)",
    text: (p) => usd(p.lastDay.marginUsd),
    money: (p) => p.lastDay.marginUsd,
  },
];

/** @param {number} n */
const toneOf = (n) => (n < 0 ? "tone-bad" : null);

/** @param {Array<{ agent: AgentView, p: AgentPerformance }>} list */
function renderTable(list) {
  const head = h(
    "tr",
    null,
    h("th", { scope: "col" }, "Agent"),
    ...COLUMNS.map((c) => h("th", { scope: "col", title: c.hint }, c.label)),
  );
  const rows = list.map(({ agent, p }) =>
    h(
      "tr",
      { "data-testid": "earnings-row", "data-agent-name": agent.name },
      h(
        "th",
        {
          scope: "row",
          title: `last ${fmtInt(p.window.records)} of at most ${fmtInt(p.window.limit)} jobs`,
        },
        agent.name,
      ),
      ...COLUMNS.map((c) =>
        h(
          "td",
          { "data-testid": `earn-${c.id}`, class: c.money ? toneOf(c.money(p)) : null },
          c.text(p),
        ),
      ),
    ),
  );
  /** The money columns summed over the rows above: the same numbers, added. */
  const total = h(
    "tr",
    { class: "earnings-total" },
    h("th", { scope: "row" }, "All agents"),
    ...COLUMNS.map((c) => {
      if (!c.money) return h("td", null);
      const money = c.money;
      const sum = list.reduce((n, { p }) => n + money(p), 0);
      return h("td", { "data-testid": `earn-total-${c.id}`, class: toneOf(sum) }, usd(sum));
    }),
  );
  byId("earnings-table").replaceChildren(
    list.length
      ? h("table", { class: "earnings" }, h("thead", null, head), h("tbody", null, ...rows, total))
      : h(
          "p",
          { class: "empty" },
          "No figures yet: no agent is registered, or the ledger cannot be read.",
        ),
  );
}

/** The quality gate's calibration per agent: predicted bucket, jobs, mean predicted, mean actual. @param {Array<{ agent: AgentView, p: AgentPerformance }>} list */
function renderCalibration(list) {
  const blocks = list.map(({ agent, p }) => {
    const filled = p.quality.calibration.filter((b) => b.count > 0);
    const body = filled.length
      ? h(
          "table",
          { class: "calibration" },
          h(
            "thead",
            null,
            h(
              "tr",
              null,
              h("th", { scope: "col" }, "Predicted"),
              h("th", { scope: "col" }, "Jobs"),
              h(
                "th",
                { scope: "col", title: "mean predicted quality in the bucket" },
                "Mean predicted",
              ),
              h(
                "th",
                { scope: "col", title: "mean quality_score the posters gave" },
                "Mean actual",
              ),
            ),
          ),
          h(
            "tbody",
            null,
            ...filled.map((b) =>
              h(
                "tr",
                { "data-testid": "calibration-row", "data-from": b.from.toFixed(1) },
                h("th", { scope: "row" }, `${b.from.toFixed(1)}–${b.to.toFixed(1)}`),
                h("td", { "data-testid": "cal-count" }, fmtInt(b.count)),
                h("td", { "data-testid": "cal-predicted" }, score(b.meanPredicted)),
                h(
                  "td",
                  {
                    "data-testid": "cal-actual",
                    class:
                      b.meanActual !== null &&
                      b.meanPredicted !== null &&
                      b.meanActual < b.meanPredicted - 0.15
                        ? "tone-warn"
                        : null,
                  },
                  score(b.meanActual),
                ),
              ),
            ),
          ),
        )
      : h("p", { class: "muted" }, "no scored predictions yet");
    return h(
      "div",
      { class: "calibration-agent", "data-testid": "calibration", "data-agent-name": agent.name },
      h(
        "h3",
        null,
        agent.name,
        " ",
        h(
          "span",
          { class: "muted", "data-testid": "cal-error" },
          p.quality.paired
            ? `error ${score(p.quality.meanAbsError)} over ${plural(p.quality.paired)}`
            : "",
        ),
      ),
      body,
    );
  });
  byId("calibration").replaceChildren(...blocks);
}

/** @param {number} n */
const plural = (n) => `${fmtInt(n)} job${n === 1 ? "" : "s"}`;

/** @type {uPlot | null} */
let chart = null;

/** @param {HTMLElement} el */
const chartWidth = (el) => Math.max(280, Math.floor(el.clientWidth));

/** @param {HTMLElement} el */
function makeChart(el) {
  const axis = {
    stroke: "#4b5563",
    grid: { stroke: "#eceef2", width: 1 },
    ticks: { stroke: "#d7dbe1", width: 1 },
  };
  /** @param {string} label @param {string} color @param {number} size @returns {uPlot.Series} */
  const bars = (label, color, size) => ({
    label,
    stroke: color,
    width: 1,
    fill: `${color}66`,
    paths: uPlot.paths.bars?.({ size: [size, 24], align: 0 }),
    points: { show: false },
    value: (_u, v) => (v === null || v === undefined ? "—" : usd(v)),
  });
  return new uPlot(
    {
      width: chartWidth(el),
      height: HEIGHT,
      cursor: { drag: { x: false, y: false } },
      scales: {
        x: { time: true, range: (_u, min, max) => [min - HOUR_S / 2, max + HOUR_S / 2] },
        y: { range: (_u, min, max) => [Math.min(0, min * 1.2), Math.max(0.001, max * 1.2)] },
      },
      axes: [
        {
          ...axis,
          space: 70,
          values: (_u, splits) => splits.map((s) => clock(s * 1000)),
        },
        {
          ...axis,
          size: 72,
          // Cents need more places when the whole range is under a cent.
          values: (_u, ticks) => {
            const span = Math.max(...ticks.map((v) => Math.abs(v)));
            return ticks.map((v) => `$${v.toFixed(span < 0.01 ? 4 : 3)}`);
          },
        },
      ],
      series: [
        {
          label: "hour",
          value: (_u, v) => (v === null || v === undefined ? "—" : clock(v * 1000)),
        },
        bars("Paid", COLORS.paid, 0.8),
        bars("LLM cost", COLORS.cost, 0.45),
        {
          label: "Margin",
          stroke: COLORS.margin,
          width: 2,
          points: { show: true, size: 6, fill: COLORS.margin },
          value: (_u, v) => (v === null || v === undefined ? "—" : usd(v)),
        },
      ],
    },
    [[], [], [], []],
    el,
  );
}

/**
 * Paid, LLM cost and margin per hour over the last 48 hours, summed over the agents: the
 * points are the agents' hourly series as the runner sent them.
 * @param {Array<{ agent: AgentView, p: AgentPerformance }>} list @param {string} nowIso
 */
function renderChart(list, nowIso) {
  const el = byId("chart-earnings");
  if (!chart) {
    chart = makeChart(el);
    const made = chart;
    new ResizeObserver(() => made.setSize({ width: chartWidth(el), height: HEIGHT })).observe(el);
  }
  const lastHour = Math.floor(Date.parse(nowIso) / 1000 / HOUR_S);
  const first = lastHour - HOURS + 1;
  /** @type {number[]} */
  const xs = [];
  /** @type {Array<number | null>} */
  const paid = [];
  /** @type {Array<number | null>} */
  const cost = [];
  /** @type {Array<number | null>} */
  const margin = [];
  for (let i = 0; i < HOURS; i += 1) {
    xs.push((first + i) * HOUR_S);
    paid.push(null);
    cost.push(null);
    margin.push(null);
  }
  let total = 0;
  for (const { p } of list) {
    for (const point of p.hourly) {
      const i = Math.floor(Date.parse(point.start) / 1000 / HOUR_S) - first;
      if (i < 0 || i >= HOURS) continue;
      paid[i] = (paid[i] ?? 0) + point.paidUsd;
      cost[i] = (cost[i] ?? 0) + point.llmCostUsd;
      margin[i] = (margin[i] ?? 0) + point.marginUsd;
      total += point.marginUsd;
    }
  }
  // What the chart draws, for a reader (and a test) to compare with the table.
  el.dataset.marginUsd = total.toFixed(6);
  chart.setData([xs, paid, cost, margin]);
}

/** Renders the earnings section from a snapshot. @param {Snapshot} s */
export function renderEarnings(s) {
  const list = withFigures(s.agents);
  renderTable(list);
  renderCalibration(list);
  renderChart(list, s.now);
}
