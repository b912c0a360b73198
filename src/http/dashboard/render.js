// @ts-check
// The snapshot as the page shows it: header facts, config issues, totals and agent cards.
import { byId, fact, h, pill, timeEl } from "./dom.js";
import { duration, fmtInt, fmtTokens, fmtUsd, plural, shortModel, syncClock } from "./format.js";

/** @typedef {import("./types.ts").Snapshot} Snapshot */
/** @typedef {import("./types.ts").AgentView} AgentView */
/** @typedef {import("./types.ts").ConfigView} ConfigView */
/** @typedef {import("./types.ts").Earnings} Earnings */
/** @typedef {import("./types.ts").ReplicaStatus} ReplicaStatus */
/** @typedef {import("./dom.js").Child} Child */
/** @typedef {import("./dom.js").Tone} Tone */

// ---------- header ----------

/** @param {Snapshot["marketplace"]} m */
function marketFact(m) {
  return fact(
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
}

/** The last reload: its tone comes from the status's booleans and counts. @param {ConfigView} c */
function reloadLine(c) {
  const r = c.reload;
  if (r) {
    /** @type {Tone} */
    const tone = !r.ok ? "bad" : r.issues > 0 ? "warn" : "ok";
    const text = r.ok
      ? `ok · ${plural(r.agents, "agent")} · ${plural(r.issues, "issue")}`
      : `failed: ${r.error ?? "no reason given"}`;
    return [
      "reloaded ",
      timeEl(r.at),
      " · ",
      h(
        "span",
        { class: `tone-${tone}`, "data-testid": "reload-outcome", "data-ok": String(r.ok) },
        text,
      ),
    ];
  }
  return ["not reloaded yet"];
}

/** @param {ConfigView} c */
function configFact(c) {
  return fact(
    "Config",
    h("strong", null, c.source),
    " ",
    pill(c.loaded ? "loaded" : "not loaded", c.loaded ? "ok" : "bad"),
    c.changeStream !== "n/a"
      ? [" ", pill(`change stream ${c.changeStream}`, c.changeStream === "active" ? "ok" : "warn")]
      : null,
    h("div", { class: "sub" }, ...reloadLine(c)),
  );
}

/**
 * The ledger's own summary: the durable record (it survives restarts), not a sum of the cards.
 * @param {Snapshot["ledger"]} l
 */
function ledgerFact(l) {
  if (!l) return fact("Ledger", h("span", { class: "muted" }, "not open"));
  /** @param {string} testid @param {number} n @param {string} what @param {string | null} [cls] */
  const figure = (testid, n, what, cls) =>
    h("span", { class: cls ?? null }, h("span", { "data-testid": testid }, fmtInt(n)), ` ${what}`);
  return h(
    "div",
    { class: "fact", "data-testid": "ledger" },
    h("dt", null, "Ledger ", h("span", { class: "dt-note" }, "all runs, from the ledger")),
    h(
      "dd",
      null,
      h("strong", null, l.backend),
      " · ",
      figure("ledger-bids", l.bids, l.bids === 1 ? "bid placed" : "bids placed"),
      " · ",
      figure("ledger-won", l.won, "won"),
      h(
        "div",
        { class: "sub" },
        figure("ledger-accepted", l.accepted, "results accepted"),
        " · ",
        figure("ledger-failed", l.failed, "failed", l.failed > 0 ? "tone-warn" : null),
        " · ",
        figure(
          "ledger-pending",
          l.pendingResults,
          "pending",
          l.pendingResults > 0 ? "tone-warn" : null,
        ),
        " · ",
        figure("ledger-closed", l.closed, "closed"),
      ),
    ),
  );
}

/** This replica and the others sharing the work (issue 11). @param {ReplicaStatus} r */
function replicaFact(r) {
  return h(
    "div",
    { class: "fact", "data-testid": "replica" },
    h("dt", null, "Replica"),
    h(
      "dd",
      null,
      h("code", { "data-testid": "replica-id" }, r.id),
      ` · ${plural(r.agents.length, "agent")} here`,
      h(
        "div",
        { class: "sub", "data-testid": "replica-agents" },
        r.agents.length ? r.agents.join(", ") : "no agents on this replica",
      ),
      h(
        "div",
        { class: "sub", "data-testid": "replica-others" },
        r.others.length
          ? [
              "others: ",
              ...r.others.flatMap((o, i) => [
                i > 0 ? ", " : null,
                h("code", null, o.id),
                ` (${plural(o.agents, "agent")})`,
              ]),
            ]
          : "no other replicas",
      ),
    ),
  );
}

/** @param {Snapshot} s */
function renderFacts(s) {
  const llm = fact(
    "LLM",
    pill(s.llm.configured ? "configured" : "not configured", s.llm.configured ? "ok" : "warn"),
    h("div", { class: "sub" }, h("code", { class: "url" }, s.llm.baseUrl)),
  );
  byId("facts").replaceChildren(
    marketFact(s.marketplace),
    configFact(s.config),
    ...(s.replica ? [replicaFact(s.replica)] : []),
    ledgerFact(s.ledger),
    llm,
  );
  byId("uptime").replaceChildren(
    "up ",
    h("span", { "data-since": s.startedAt }, duration(s.startedAt)),
  );
}

/** @param {Snapshot["config"]["issues"]} issues */
function renderIssues(issues) {
  byId("config-issues").hidden = issues.length === 0;
  byId("issues-count").textContent = String(issues.length);
  byId("issues-list").replaceChildren(
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

// ---------- figures: one definition each, shown on the cards and totalled in the tiles ----------

/**
 * The three earnings figures: bid, won and paid.
 * @param {AgentView} a
 * @returns {Partial<Earnings>}
 */
export function earningsOf(a) {
  return a.earnings;
}

/**
 * @typedef {object} Figure
 * @property {string} id testid on the card; the tile's is `total-<id>`
 * @property {string} label
 * @property {string} hint what it counts
 * @property {(a: AgentView) => number | undefined} value undefined: not known for this agent
 * @property {(n: number) => string} format
 * @property {boolean} [tile] false: a total would mislead (every agent sees the same jobs)
 * @property {"bad"} [toneIfAny]
 */

/** Money to a tenth of a cent on cards and tiles alike, so the cards add up to the tile. */
const usd3 = (/** @type {number} */ n) => fmtUsd(n, 3);

/** @type {Figure[]} */
const FIGURES = [
  {
    id: "jobs-seen",
    label: "Jobs seen",
    hint: "open jobs this agent considered",
    value: (a) => a.jobsSeen,
    format: fmtInt,
    tile: false,
  },
  {
    id: "bids-placed",
    label: "Bids placed",
    hint: "bids sent to the marketplace",
    value: (a) => a.bidsPlaced,
    format: fmtInt,
  },
  {
    id: "bids-won",
    label: "Bids won",
    hint: "jobs assigned to the agent",
    value: (a) => a.bidsWon,
    format: fmtInt,
  },
  {
    id: "in-flight",
    label: "In flight",
    hint: "won jobs executing now",
    value: (a) => a.jobsInFlight,
    format: fmtInt,
  },
  {
    id: "results-accepted",
    label: "Results accepted",
    hint: "successful results the marketplace accepted",
    value: (a) => a.resultsAccepted,
    format: fmtInt,
  },
  {
    id: "results-failed",
    label: "Results failed",
    hint: "failed results submitted, or results the marketplace refused",
    value: (a) => a.resultsFailed,
    format: fmtInt,
  },
  {
    id: "tokens",
    label: "LLM tokens",
    hint: "tokens used executing jobs",
    value: (a) => a.tokensUsed,
    format: fmtTokens,
  },
  {
    id: "llm-cost",
    label: "LLM cost",
    hint: "estimated cost of those tokens",
    value: (a) => a.llmCostUsd,
    format: (n) => fmtUsd(n),
  },
  {
    id: "bid-usd",
    label: "Bid $",
    hint: "price of the bids placed",
    value: (a) => earningsOf(a).bidUsd,
    format: usd3,
  },
  {
    id: "won-usd",
    label: "Won $",
    hint: "agreed price of the jobs won",
    value: (a) => earningsOf(a).wonUsd,
    format: usd3,
  },
  {
    id: "paid-usd",
    label: "Paid $",
    hint: "paid at sign-off: the job's escrow released and the agent's total_earned_usd grown by it",
    value: (a) => earningsOf(a).paidUsd,
    format: usd3,
  },
  {
    id: "errors",
    label: "Errors",
    hint: "errors since start",
    value: (a) => a.errors,
    format: fmtInt,
    toneIfAny: "bad",
  },
];

/** Figures at least one agent reports (earnings may not be known yet). @param {AgentView[]} agents */
const shownFigures = (agents) =>
  FIGURES.filter((f) => agents.some((a) => f.value(a) !== undefined));

/** @param {string} label @param {string} value @param {string} testid @param {string} hint @param {string | null} [tone] */
function tile(label, value, testid, hint, tone) {
  return h(
    "div",
    { class: `tile${tone ? ` tile-${tone}` : ""}`, title: hint },
    h("div", { class: "tile-label" }, label),
    h("div", { class: "tile-value", "data-testid": testid }, value),
  );
}

/** @param {AgentView[]} agents */
function renderTotals(agents) {
  const running = agents.filter((a) => a.state === "running").length;
  const totals = shownFigures(agents)
    .filter((f) => f.tile !== false)
    .map((f) => {
      const total = agents.reduce((n, a) => n + (f.value(a) ?? 0), 0);
      const tone = f.toneIfAny && total > 0 ? f.toneIfAny : null;
      return tile(f.label, f.format(total), `total-${f.id}`, `Sum of the cards: ${f.hint}`, tone);
    });
  byId("totals").replaceChildren(
    tile(
      "Agents running",
      `${running} / ${agents.length}`,
      "total-agents",
      "agents in state running",
    ),
    ...totals,
  );
}

// ---------- agent cards ----------

/** @param {string} label @param {string} hint @param {string} testid @param {string} value @param {Child} [extra] */
function counter(label, hint, testid, value, extra) {
  return h(
    "div",
    { class: "counter", title: hint },
    h("dt", null, label),
    h("dd", null, h("span", { "data-testid": testid }, value), extra ?? null),
  );
}

/** @param {string | null} outcome */
function heartbeatTone(outcome) {
  if (!outcome) return "muted";
  return /^(ok|online|busy|available|offline)/i.test(outcome) ? "ok" : "bad";
}

/** @param {AgentView} a */
function walletLine(a) {
  const w = a.wallet;
  if (!w) return null;
  return h(
    "div",
    { class: "wallet", "data-testid": "wallet" },
    h("span", { class: "hb-label" }, "Wallet "),
    h("code", { class: "address", "data-testid": "wallet-address" }, w.address),
    " ",
    pill(w.holdsKey ? "key held" : "payout only — cannot sign", w.holdsKey ? "ok" : "warn", {
      "data-testid": "wallet-key",
    }),
  );
}

/** @param {AgentView} a @param {Figure[]} figures */
function agentCard(a, figures) {
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
  const counters = figures.map((f) => {
    if (f.id === "in-flight") {
      return counter(
        f.label,
        f.hint,
        f.id,
        `${fmtInt(a.jobsInFlight)} / ${fmtInt(a.maxConcurrentJobs)}`,
        h("span", { class: "meter", "aria-hidden": "true" }, h("span", { "data-load": load })),
      );
    }
    const v = f.value(a);
    return counter(f.label, f.hint, f.id, v === undefined ? "—" : f.format(v));
  });
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
      a.spendCapReached ? pill("spend cap reached", "warn", { "data-testid": "spend-cap" }) : null,
    ),
    walletLine(a),
    hb,
    h("dl", { class: "counters" }, counters),
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

/** @param {AgentView[]} agents */
function renderAgents(agents) {
  const figures = shownFigures(agents);
  const cards = agents.map((a) => agentCard(a, figures));
  const list = byId("agents");
  list.replaceChildren(
    ...(cards.length
      ? cards
      : [h("p", { class: "empty" }, "No agents yet: the config source has yielded none.")]),
  );
  // Width via CSSOM (allowed by the page's CSP, unlike style attributes in markup).
  for (const bar of list.querySelectorAll(".meter > span")) {
    if (bar instanceof HTMLElement)
      bar.style.width = `${Math.round(Number(bar.dataset.load) * 100)}%`;
  }
  /** @type {Record<string, number>} */
  const byState = {};
  for (const a of agents) byState[a.state] = (byState[a.state] ?? 0) + 1;
  byId("agents-summary").textContent = Object.entries(byState)
    .map(([s, n]) => `${n} ${s}`)
    .join(" · ");
}

/** Renders a snapshot: the page's one source for every figure it shows. @param {Snapshot} s */
export function renderStatus(s) {
  syncClock(s.now);
  renderFacts(s);
  renderIssues(s.config.issues ?? []);
  renderTotals(s.agents);
  renderAgents(s.agents);
  document.title = `bazaar-runner · ${s.agents.filter((a) => a.state === "running").length} running`;
}
