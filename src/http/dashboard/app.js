// bazaar-runner dashboard: plain browser JS, served as-is (no build step).
// All data is written with textContent / attributes, never as HTML.
import uPlot from "/assets/uplot.esm.js";

const MAX_EVENTS = 2000;
const TIMELINE_ROWS = 150;
const WINDOW_MINUTES = 60;
const POLL_MS = 5000;
const SSE_RETRY_MS = 30000;

const state = {
  snapshot: null,
  events: [],
  eventKeys: new Set(),
  /** Server clock minus browser clock, so relative times and buckets match the runner. */
  skewMs: 0,
  mode: "connecting",
  source: null,
  pollTimer: null,
  sseRetryTimer: null,
  charts: { activity: null, llm: null },
  chartsDirty: true,
};

// ---------- small DOM helpers ----------

/** Creates an element; children are nodes or text (never parsed as HTML). */
function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs ?? {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name === "class") el.className = value;
    else el.setAttribute(name, String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
  return el;
}

const $ = (id) => document.getElementById(id);

const serverNow = () => Date.now() + state.skewMs;

function relTime(iso) {
  if (!iso) return "never";
  const ms = serverNow() - Date.parse(iso);
  if (!Number.isFinite(ms)) return "?";
  const s = Math.round(ms / 1000);
  if (s < 0) return "just now";
  if (s < 5) return "just now";
  if (s < 60) return `${s} s ago`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ago`;
  const hrs = Math.floor(m / 60);
  if (hrs < 48) return `${hrs} h ${m % 60} min ago`;
  return `${Math.floor(hrs / 24)} d ago`;
}

function duration(fromIso) {
  const s = Math.max(0, Math.round((serverNow() - Date.parse(fromIso)) / 1000));
  const d = Math.floor(s / 86400);
  const hrs = Math.floor((s % 86400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  if (d > 0) return `${d} d ${hrs} h`;
  if (hrs > 0) return `${hrs} h ${m} min`;
  if (m > 0) return `${m} min`;
  return `${s} s`;
}

/** A <time> whose text the ticker refreshes every second. */
function timeEl(iso, fallback = "never") {
  if (!iso) return h("span", { class: "muted" }, fallback);
  return h(
    "time",
    { datetime: iso, "data-rel": iso, title: new Date(iso).toLocaleString() },
    relTime(iso),
  );
}

const fmtInt = (n) => Number(n ?? 0).toLocaleString("en-US");
function fmtUsd(n, digits) {
  const v = Number(n ?? 0);
  const d = digits ?? (v !== 0 && Math.abs(v) < 0.1 ? 4 : 2);
  return `$${v.toFixed(d)}`;
}
function fmtTokens(n) {
  const v = Number(n ?? 0);
  if (v >= 1e6) return `${(v / 1e6).toFixed(2)} M`;
  if (v >= 1e4) return `${(v / 1e3).toFixed(1)} k`;
  return fmtInt(v);
}
const shortModel = (model) => (model ? model.split("/").pop() : "—");
const timeOfDay = (iso) =>
  new Date(iso).toLocaleTimeString([], {
    hour: "2-digit",
    minute: "2-digit",
    second: "2-digit",
    hour12: false,
  });

function pill(text, tone, attrs) {
  return h("span", { class: `pill pill-${tone}`, ...attrs }, text);
}

// ---------- header, issues, totals, agents ----------

function fact(label, ...value) {
  return h("div", { class: "fact" }, h("dt", null, label), h("dd", null, ...value));
}

function renderFacts(s) {
  const m = s.marketplace;
  const c = s.config;
  const l = s.ledger;
  const market = fact(
    "Marketplace",
    h("code", { class: "url", "data-testid": "marketplace-url" }, m.url),
    h(
      "div",
      { class: "sub" },
      pill(m.embedded ? "embedded" : "external", "muted"),
      " ",
      pill(m.reachable ? "reachable" : "unreachable", m.reachable ? "ok" : "bad", {
        "data-testid": "marketplace-reachable",
      }),
      " last answer ",
      timeEl(m.lastOkAt),
    ),
  );
  const reloadTone = !c.loaded ? "bad" : /^ok/i.test(c.lastReloadOutcome ?? "ok") ? "ok" : "warn";
  const config = fact(
    "Config",
    h("strong", null, c.source),
    " ",
    pill(c.loaded ? "loaded" : "not loaded", c.loaded ? "ok" : "bad"),
    c.changeStream !== "n/a"
      ? [" ", pill(`change stream ${c.changeStream}`, c.changeStream === "active" ? "ok" : "warn")]
      : null,
    h(
      "div",
      { class: "sub" },
      "reloaded ",
      timeEl(c.lastReloadAt),
      c.lastReloadOutcome
        ? [" · ", h("span", { class: `tone-${reloadTone}` }, c.lastReloadOutcome)]
        : null,
    ),
  );
  const ledger = l
    ? fact(
        "Ledger",
        h("strong", null, l.backend),
        ` · ${fmtInt(l.bids)} ${l.bids === 1 ? "bid" : "bids"} · ${fmtInt(l.won)} won`,
        h(
          "div",
          { class: "sub" },
          `${fmtInt(l.accepted)} accepted · `,
          h(
            "span",
            { class: l.pendingResults > 0 ? "tone-warn" : null },
            `${fmtInt(l.pendingResults)} pending`,
          ),
          ` · ${fmtInt(l.closed)} closed`,
        ),
      )
    : fact("Ledger", h("span", { class: "muted" }, "not open"));
  const llm = fact(
    "LLM",
    pill(s.llm.configured ? "configured" : "not configured", s.llm.configured ? "ok" : "warn"),
    h("div", { class: "sub" }, h("code", { class: "url" }, s.llm.baseUrl)),
  );
  $("facts").replaceChildren(market, config, ledger, llm);
  $("uptime").replaceChildren(
    "up ",
    h("span", { "data-since": s.startedAt }, duration(s.startedAt)),
  );
}

function renderIssues(issues) {
  const panel = $("config-issues");
  panel.hidden = issues.length === 0;
  $("issues-count").textContent = String(issues.length);
  $("issues-list").replaceChildren(
    ...issues.map((issue) =>
      h(
        "li",
        { "data-testid": "config-issue" },
        h("span", { class: "issue-source" }, issue.source),
        h("code", { class: "issue-ref" }, issue.ref),
        h("span", { class: "issue-message" }, issue.message),
      ),
    ),
  );
}

function sum(agents, key) {
  return agents.reduce((n, a) => n + Number(a[key] ?? 0), 0);
}

function tile(label, value, testid, tone) {
  return h(
    "div",
    { class: `tile${tone ? ` tile-${tone}` : ""}` },
    h("div", { class: "tile-label" }, label),
    h("div", { class: "tile-value", "data-testid": testid }, value),
  );
}

function renderTotals(agents) {
  const running = agents.filter((a) => a.state === "running").length;
  const errors = sum(agents, "errors");
  $("totals").replaceChildren(
    tile("Agents running", `${running} / ${agents.length}`, "total-agents"),
    tile("Bids placed", fmtInt(sum(agents, "bidsPlaced")), "total-bids-placed"),
    tile("Bids won", fmtInt(sum(agents, "bidsWon")), "total-bids-won"),
    tile("In flight", fmtInt(sum(agents, "jobsInFlight")), "total-in-flight"),
    tile("Results accepted", fmtInt(sum(agents, "resultsAccepted")), "total-results-accepted"),
    tile("LLM tokens", fmtTokens(sum(agents, "tokensUsed")), "total-tokens"),
    tile("LLM cost", fmtUsd(sum(agents, "llmCostUsd")), "total-llm-cost"),
    tile(
      "Revenue",
      fmtUsd(agents.reduce((n, a) => n + a.earnings.wonUsd, 0)),
      "total-revenue",
      "good",
    ),
    tile("Errors", fmtInt(errors), "total-errors", errors > 0 ? "bad" : null),
  );
}

function counter(label, testid, value, extra) {
  return h(
    "div",
    { class: "counter" },
    h("dt", null, label),
    h("dd", null, h("span", { "data-testid": testid }, value), extra ?? null),
  );
}

function heartbeatTone(outcome) {
  if (!outcome) return "muted";
  return /^(ok|online|busy|available|offline)/i.test(outcome) ? "ok" : "bad";
}

function agentCard(a) {
  const hb = h(
    "div",
    { class: "hb" },
    h("span", { class: "hb-label" }, "Heartbeat "),
    timeEl(a.lastHeartbeatAt),
    a.lastHeartbeatOutcome
      ? [
          " · ",
          h(
            "span",
            {
              class: `tone-${heartbeatTone(a.lastHeartbeatOutcome)}`,
              "data-testid": "heartbeat-outcome",
            },
            a.lastHeartbeatOutcome,
          ),
        ]
      : null,
  );
  const load = a.maxConcurrentJobs > 0 ? Math.min(1, a.jobsInFlight / a.maxConcurrentJobs) : 0;
  return h(
    "article",
    {
      class: `card state-${a.state}`,
      "data-testid": "agent-card",
      "data-agent-name": a.name,
      "data-state": a.state,
    },
    h(
      "header",
      { class: "card-head" },
      h(
        "div",
        null,
        h("h3", null, a.name),
        h(
          "div",
          { class: "card-sub" },
          a.agentType,
          " · ",
          a.source,
          a.agentId ? [" · ", h("code", null, a.agentId)] : null,
        ),
      ),
      h("span", { class: `state-badge state-${a.state}`, "data-testid": "agent-state" }, a.state),
    ),
    h(
      "div",
      { class: "card-meta" },
      h("span", { title: a.model }, shortModel(a.model)),
      h("span", null, `base ${fmtUsd(a.baseRateUsd, 3)}`),
    ),
    hb,
    h(
      "dl",
      { class: "counters" },
      counter("Jobs seen", "jobs-seen", fmtInt(a.jobsSeen)),
      counter("Bids placed", "bids-placed", fmtInt(a.bidsPlaced)),
      counter("Bids won", "bids-won", fmtInt(a.bidsWon)),
      counter(
        "In flight",
        "in-flight",
        `${fmtInt(a.jobsInFlight)} / ${fmtInt(a.maxConcurrentJobs)}`,
        h(
          "span",
          { class: "meter", "aria-hidden": "true" },
          h("span", { "data-load": String(load) }),
        ),
      ),
      counter("Accepted", "results-accepted", fmtInt(a.resultsAccepted)),
      counter("Failed", "results-failed", fmtInt(a.resultsFailed)),
      counter("Tokens", "tokens", fmtTokens(a.tokensUsed)),
      counter("LLM cost", "llm-cost", fmtUsd(a.llmCostUsd)),
      counter("Revenue", "revenue", fmtUsd(a.earnings.wonUsd)),
      counter("Errors", "errors", fmtInt(a.errors)),
    ),
    a.lastError
      ? h(
          "p",
          { class: "last-error", "data-testid": "last-error", title: a.lastError },
          h("strong", null, "Last error: "),
          a.lastError,
        )
      : null,
  );
}

function renderAgents(agents) {
  const cards = agents.map(agentCard);
  $("agents").replaceChildren(
    ...(cards.length
      ? cards
      : [h("p", { class: "empty" }, "No agents yet: the config source has yielded none.")]),
  );
  // Width via CSSOM (allowed by the page's CSP, unlike style attributes in markup).
  for (const bar of $("agents").querySelectorAll(".meter > span")) {
    bar.style.width = `${Math.round(Number(bar.dataset.load) * 100)}%`;
  }
  const byState = {};
  for (const a of agents) byState[a.state] = (byState[a.state] ?? 0) + 1;
  $("agents-summary").textContent = Object.entries(byState)
    .map(([s, n]) => `${n} ${s}`)
    .join(" · ");
}

function renderStatus(snapshot) {
  state.snapshot = snapshot;
  if (snapshot.now) state.skewMs = Date.parse(snapshot.now) - Date.now();
  renderFacts(snapshot);
  renderIssues(snapshot.config.issues ?? []);
  renderTotals(snapshot.agents);
  renderAgents(snapshot.agents);
  document.title = `bazaar-runner · ${snapshot.agents.filter((a) => a.state === "running").length} running`;
}

// ---------- events: timeline and charts ----------

const eventKey = (e) => `${e.at}|${e.kind}|${e.agent ?? ""}|${e.jobId ?? ""}|${e.message}`;

function addEvents(list) {
  let added = 0;
  for (const e of list) {
    const key = eventKey(e);
    if (state.eventKeys.has(key)) continue;
    state.eventKeys.add(key);
    state.events.push(e);
    added += 1;
  }
  if (added === 0) return;
  state.events.sort((a, b) => Date.parse(a.at) - Date.parse(b.at));
  while (state.events.length > MAX_EVENTS) state.eventKeys.delete(eventKey(state.events.shift()));
  renderTimeline();
  state.chartsDirty = true;
  requestAnimationFrame(renderCharts);
}

function eventRow(e) {
  const detail = [];
  if (e.amountUsd !== undefined) detail.push(fmtUsd(e.amountUsd, 3));
  if (e.tokens !== undefined) detail.push(`${fmtInt(e.tokens)} tok`);
  if (e.costUsd !== undefined) detail.push(fmtUsd(e.costUsd, 4));
  return h(
    "li",
    { class: `event kind-${e.kind}`, "data-testid": "timeline-event", "data-kind": e.kind },
    h(
      "time",
      { class: "ev-time", datetime: e.at, title: new Date(e.at).toLocaleString() },
      timeOfDay(e.at),
    ),
    h("span", { class: "ev-kind" }, e.kind),
    h("span", { class: "ev-agent" }, e.agent ?? "runner"),
    h(
      "span",
      { class: "ev-message" },
      e.message,
      e.jobId ? [" ", h("code", { class: "ev-job" }, e.jobId)] : null,
    ),
    h("span", { class: "ev-detail" }, detail.join(" · ")),
  );
}

function renderTimeline() {
  const rows = state.events.slice(-TIMELINE_ROWS).reverse().map(eventRow);
  $("timeline").replaceChildren(
    ...(rows.length
      ? rows
      : [
          h(
            "li",
            { class: "empty" },
            "No events yet. Bids, wins, results and errors appear here as they happen.",
          ),
        ]),
  );
  $("timeline-summary").textContent =
    state.events.length > TIMELINE_ROWS
      ? `newest ${TIMELINE_ROWS} of ${state.events.length}`
      : `${state.events.length} events`;
}

/** Per-minute buckets over the last hour, built from the events the page holds. */
function buckets() {
  const nowMin = Math.floor(serverNow() / 60000);
  const start = nowMin - WINDOW_MINUTES + 1;
  const xs = [];
  const series = { bid: [], won: [], result: [], tokens: [], cost: [] };
  for (let i = 0; i < WINDOW_MINUTES; i += 1) {
    xs.push((start + i) * 60);
    for (const list of Object.values(series)) list.push(0);
  }
  for (const e of state.events) {
    const i = Math.floor(Date.parse(e.at) / 60000) - start;
    if (i < 0 || i >= WINDOW_MINUTES) continue;
    if (e.kind === "bid" || e.kind === "won" || e.kind === "result") series[e.kind][i] += 1;
    if (e.tokens) series.tokens[i] += e.tokens;
    if (e.costUsd) series.cost[i] += e.costUsd;
  }
  return { xs, series };
}

const COLORS = {
  bid: "#2563eb",
  won: "#15803d",
  result: "#7c3aed",
  tokens: "#0e7490",
  cost: "#c2410c",
};

function chartWidth(el) {
  return Math.max(280, Math.floor(el.clientWidth));
}

/** Room for the first and last bar at the window's edges. */
const padX = (_u, min, max) => [min - 40, max + 40];

function makeCharts() {
  const axis = {
    stroke: "#4b5563",
    grid: { stroke: "#eceef2", width: 1 },
    ticks: { stroke: "#d7dbe1", width: 1 },
  };
  // Counts per minute are bars; nested widths keep bids, wins and results readable
  // together (results <= wins <= bids, so the narrower bars sit inside the wider).
  const bars = (label, color, size, alpha, extra) => ({
    label,
    stroke: color,
    width: 1,
    fill: `${color}${alpha}`,
    paths: uPlot.paths.bars({ size: [size, 28], align: 0 }),
    points: { show: false },
    ...extra,
  });
  const activityEl = $("chart-activity");
  state.charts.activity = new uPlot(
    {
      width: chartWidth(activityEl),
      height: 220,
      cursor: { drag: { x: false, y: false } },
      scales: {
        x: { time: true, range: padX },
        y: { range: (_u, _min, max) => [0, Math.max(3, Math.ceil(max * 1.2))] },
      },
      axes: [
        { ...axis, space: 70 },
        { ...axis, size: 40 },
      ],
      series: [
        { label: "minute" },
        bars("Bids", COLORS.bid, 0.9, "33"),
        bars("Wins", COLORS.won, 0.6, "99"),
        bars("Results", COLORS.result, 0.3, "ee"),
      ],
    },
    [[], [], [], []],
    activityEl,
  );
  const llmEl = $("chart-llm");
  state.charts.llm = new uPlot(
    {
      width: chartWidth(llmEl),
      height: 220,
      cursor: { drag: { x: false, y: false } },
      scales: {
        x: { time: true, range: padX },
        tokens: { range: (_u, _min, max) => [0, Math.max(1000, max * 1.2)] },
        usd: { range: (_u, _min, max) => [0, Math.max(0.001, max * 1.2)] },
      },
      axes: [
        { ...axis, space: 70 },
        {
          ...axis,
          scale: "tokens",
          size: 52,
          values: (_u, ticks) => ticks.map((v) => fmtTokens(v)),
        },
        {
          ...axis,
          scale: "usd",
          side: 1,
          size: 64,
          grid: { show: false },
          values: (_u, ticks) => ticks.map((v) => `$${v.toFixed(v < 0.01 ? 4 : 3)}`),
        },
      ],
      series: [
        { label: "minute" },
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
    llmEl,
  );
  const resize = new ResizeObserver(() => {
    state.charts.activity.setSize({ width: chartWidth(activityEl), height: 220 });
    state.charts.llm.setSize({ width: chartWidth(llmEl), height: 220 });
  });
  resize.observe(activityEl);
  resize.observe(llmEl);
}

function renderCharts() {
  if (!state.chartsDirty || !state.charts.activity) return;
  state.chartsDirty = false;
  const { xs, series } = buckets();
  state.charts.activity.setData([xs, series.bid, series.won, series.result]);
  // Empty minutes get no bar and no dot (not a zero-height outline).
  const gaps = (list) => list.map((v) => (v > 0 ? v : null));
  state.charts.llm.setData([xs, gaps(series.tokens), gaps(series.cost)]);
}

// ---------- data flow: initial load, live stream, polling fallback ----------

class HttpError extends Error {
  constructor(status) {
    super(`HTTP ${status}`);
    this.status = status;
  }
}

async function getJson(path) {
  const res = await fetch(path, {
    credentials: "same-origin",
    headers: { accept: "application/json" },
  });
  if (!res.ok) throw new HttpError(res.status);
  return res.json();
}

function showBanner(text) {
  const banner = $("banner");
  banner.hidden = !text;
  banner.textContent = text ?? "";
}

function setMode(mode) {
  state.mode = mode;
  const labels = {
    live: "live",
    polling: "polling every 5 s",
    reconnecting: "reconnecting…",
    offline: "offline",
    connecting: "connecting…",
  };
  const tones = {
    live: "ok",
    polling: "warn",
    reconnecting: "warn",
    offline: "bad",
    connecting: "muted",
  };
  const el = $("conn");
  el.textContent = labels[mode];
  el.className = `pill pill-${tones[mode]}`;
  el.dataset.mode = mode;
}

function reportFailure(error) {
  if (error instanceof HttpError && error.status === 401) {
    showBanner("This dashboard needs its token: open it once as /?token=<DASHBOARD_TOKEN>.");
  } else {
    showBanner(`Cannot reach the runner (${error.message}). Retrying…`);
  }
}

async function refresh(eventLimit) {
  const [snapshot, events] = await Promise.all([
    getJson("/api/status"),
    getJson(`/api/events?limit=${eventLimit}`),
  ]);
  renderStatus(snapshot);
  addEvents(events.events ?? []);
  showBanner(null);
}

function startPolling() {
  if (state.pollTimer) return;
  setMode("polling");
  const tick = async () => {
    try {
      await refresh(200);
      setMode("polling");
    } catch (error) {
      setMode("offline");
      reportFailure(error);
    }
  };
  state.pollTimer = setInterval(tick, POLL_MS);
  void tick();
  // Keep trying the live stream in the background.
  state.sseRetryTimer = setInterval(() => connectStream(), SSE_RETRY_MS);
}

function stopPolling() {
  clearInterval(state.pollTimer);
  clearInterval(state.sseRetryTimer);
  state.pollTimer = null;
  state.sseRetryTimer = null;
}

function connectStream() {
  if (typeof EventSource !== "function") {
    startPolling();
    return;
  }
  if (state.source) state.source.close();
  const source = new EventSource("/api/events/stream", { withCredentials: true });
  state.source = source;
  let failures = 0;
  let opened = false;
  source.onopen = () => {
    failures = 0;
    const wasPolling = state.pollTimer !== null;
    stopPolling();
    setMode("live");
    showBanner(null);
    // After a gap (reconnect or polling), fetch what the stream could not deliver.
    if (opened || wasPolling) void refresh(500).catch(reportFailure);
    opened = true;
  };
  source.onmessage = (message) => {
    try {
      addEvents([JSON.parse(message.data)]);
    } catch {
      // A malformed line is skipped; the next status event resynchronises the page.
    }
  };
  source.addEventListener("status", (message) => {
    try {
      renderStatus(JSON.parse(message.data));
    } catch {
      // As above.
    }
  });
  source.onerror = () => {
    failures += 1;
    // Never opened (blocked by a proxy, say) or keeps failing: poll instead.
    if (!opened || source.readyState === EventSource.CLOSED || failures >= 3) {
      source.close();
      if (state.source === source) state.source = null;
      startPolling();
    } else {
      setMode("reconnecting");
    }
  };
}

function tick() {
  for (const el of document.querySelectorAll("[data-rel]"))
    el.textContent = relTime(el.dataset.rel);
  for (const el of document.querySelectorAll("[data-since]"))
    el.textContent = duration(el.dataset.since);
}

async function main() {
  makeCharts();
  renderTimeline();
  try {
    await refresh(MAX_EVENTS);
  } catch (error) {
    reportFailure(error);
  }
  connectStream();
  setInterval(tick, 1000);
  // Slide the chart window even when nothing happens.
  setInterval(() => {
    state.chartsDirty = true;
    renderCharts();
  }, 30000);
}

void main();
