// @ts-check
// What the page shows: the poster's jobs, and one job with its bids, work and payment.
// Buttons carry `data-action` (and `data-bid`); app.js does what they say.
import { h, pill } from "./dom.js";
import { at, label, money, toneOf } from "./format.js";

/**
 * @typedef {{ price_usd: number, message: string, by: string, created_at: string }} Offer
 * @typedef {{ bid_id: string, agent_id: string, agent_name?: string, price_usd: number,
 *   final_price_usd: number | null, estimated_quality?: number, confidence?: number,
 *   approach_summary?: string, approach?: string, status: string, counter_offers?: Offer[] }} Bid
 * @typedef {{ success?: boolean, output?: string, model?: string, tokens_used?: number, executed_by?: string,
 *   error?: string, [field: string]: unknown }} Result
 * @typedef {{ suggested_overall: number, recommendation: string, feedback?: string }} Suggestion
 * @typedef {{ job_id: string, title: string, description: string, status: string, budget_usd: number,
 *   poster_wallet: string, attachments?: unknown[],
 *   bid_count: number, required_capabilities: string[], escrow_txn_id?: string | null,
 *   assigned_agent_id?: string | null, winning_bid_id?: string | null, final_price_usd?: number | null,
 *   quality_score?: number | null, result?: Result | null, created_at: string,
 *   human_review_decision?: string | null, human_review_feedback?: string | null,
 *   ai_quality_suggestion?: Suggestion | null }} Job
 * @typedef {{ file_id: string, filename: string, size: string | number, category: string }} JobFile
 * @typedef {{ txn_id: string, txn_type: string, amount_usd: number, status: string,
 *   payee_wallet?: string | null, payer_wallet?: string | null }} Txn
 * @typedef {{ job: Job, bids: Bid[], files: JobFile[], escrow: Txn | null, payment: Txn | null }} Detail
 */

/** Bids that may still be negotiated, awarded or rejected. */
const LIVE = new Set(["pending", "awaiting_approval", "counter_offered", "counter_accepted"]);
/** Job statuses in which the poster still picks a winner. */
const UNAWARDED = new Set(["open", "posted", "bidding", "negotiating", "awaiting_approval"]);

/** @param {Job[]} jobs @param {string | null} selected */
export function jobList(jobs, selected) {
  if (jobs.length === 0)
    return [h("li", { class: "muted empty" }, "No jobs posted from this wallet yet.")];
  return jobs.map((job) =>
    h(
      "li",
      null,
      h(
        "button",
        {
          type: "button",
          class: job.job_id === selected ? "job-row selected" : "job-row",
          "data-job-id": job.job_id,
          "data-testid": "job-row",
        },
        h("span", { class: "job-title" }, job.title),
        h(
          "span",
          { class: "job-meta" },
          pill(label(job.status), toneOf(job.status)),
          ` ${money(job.budget_usd)} · ${job.bid_count} bid${job.bid_count === 1 ? "" : "s"}`,
        ),
      ),
    ),
  );
}

/** @param {Detail} detail */
export function jobDetail(detail) {
  const { job } = detail;
  return [
    h(
      "div",
      { class: "job-head" },
      h("h2", { "data-testid": "job-title" }, job.title),
      pill(label(job.status), toneOf(job.status), {
        "data-testid": "job-status",
        "data-status": job.status,
      }),
    ),
    h(
      "p",
      { class: "muted job-facts" },
      h("code", null, job.job_id),
      ` · budget ${money(job.budget_usd)} · posted ${at(job.created_at)}`,
      job.required_capabilities.length ? ` · needs ${job.required_capabilities.join(", ")}` : "",
    ),
    h("p", { class: "description" }, job.description),
    files(job, detail.files),
    bids(job, detail.bids),
    work(job, detail.bids),
    payment(detail),
  ];
}

/** @param {Job} job @param {JobFile[]} list */
function files(job, list) {
  if (list.length === 0) return null;
  return h(
    "section",
    { class: "sub", "data-testid": "files" },
    h("h3", null, `Files (${list.length})`),
    h(
      "ul",
      { class: "files" },
      list.map((f) =>
        h(
          "li",
          null,
          h(
            "a",
            {
              href: `/api/jobs/${encodeURIComponent(job.job_id)}/files/${encodeURIComponent(f.file_id)}`,
            },
            f.filename,
          ),
          h("span", { class: "muted" }, ` ${size(f.size)} · ${f.category}`),
        ),
      ),
    ),
  );
}

/** @param {Job} job @param {Bid[]} list */
function bids(job, list) {
  return h(
    "section",
    { class: "sub", "data-testid": "bids" },
    h("h3", null, `Bids (${list.length})`),
    list.length === 0
      ? h(
          "p",
          { class: "muted" },
          "No bids yet: agents that match the job bid within a poll or two.",
        )
      : list.map((bid) => bidCard(job, bid)),
  );
}

/** @param {Job} job @param {Bid} bid */
function bidCard(job, bid) {
  const live = LIVE.has(bid.status) && UNAWARDED.has(job.status);
  const offers = bid.counter_offers ?? [];
  const last = offers.at(-1);
  const confidence = bid.estimated_quality ?? bid.confidence;
  const id = bid.bid_id;
  return h(
    "article",
    { class: "bid", "data-testid": "bid", "data-bid-id": id, "data-status": bid.status },
    h(
      "div",
      { class: "bid-head" },
      h("strong", null, bid.agent_name ?? bid.agent_id),
      h("span", { class: "price", "data-testid": "bid-price" }, money(bid.price_usd)),
      bid.final_price_usd !== null && bid.final_price_usd !== bid.price_usd
        ? h("span", { class: "muted" }, `agreed ${money(bid.final_price_usd)}`)
        : null,
      pill(label(bid.status), toneOf(bid.status), { "data-testid": "bid-status" }),
    ),
    h(
      "p",
      { class: "muted" },
      confidence === undefined ? "" : `confidence ${confidence} · `,
      bid.approach_summary ?? bid.approach ?? "",
    ),
    offers.length
      ? h(
          "ol",
          { class: "offers", "data-testid": "offers" },
          offers.map((o) =>
            h(
              "li",
              { "data-by": o.by },
              h("strong", null, o.by === "poster" ? "You" : "Agent"),
              ` offered ${money(o.price_usd)}`,
              o.message ? `: ${o.message}` : "",
              h("span", { class: "muted" }, ` · ${at(o.created_at)}`),
            ),
          ),
        )
      : null,
    live
      ? h(
          "div",
          { class: "actions" },
          bid.status === "awaiting_approval"
            ? h("button", { type: "button", "data-action": "approve", "data-bid": id }, "Approve")
            : null,
          last && last.by === "agent"
            ? h(
                "button",
                { type: "button", "data-action": "accept-counter", "data-bid": id },
                `Accept ${money(last.price_usd)}`,
              )
            : null,
          bid.status === "awaiting_approval"
            ? null
            : h(
                "button",
                { type: "button", class: "primary", "data-action": "award", "data-bid": id },
                "Award",
              ),
          h(
            "button",
            { type: "button", class: "quiet", "data-action": "reject", "data-bid": id },
            "Reject",
          ),
          h(
            "form",
            { class: "counter", "data-action": "counter", "data-bid": id },
            h("input", {
              name: "price",
              type: "number",
              min: "0.01",
              step: "0.01",
              required: true,
              placeholder: "price",
              "aria-label": "Counter-offer price in USD",
              "data-keep": `price-${id}`,
            }),
            h("input", {
              name: "message",
              type: "text",
              placeholder: "message (optional)",
              "aria-label": "Counter-offer message",
              "data-keep": `message-${id}`,
            }),
            h("button", { type: "submit" }, "Counter"),
          ),
        )
      : null,
  );
}

/** The work once a bid won: hosted execution, the result, and the review or sign-off. @param {Job} job @param {Bid[]} list */
function work(job, list) {
  if (UNAWARDED.has(job.status) || job.status === "cancelled") return null;
  const winner = list.find((b) => b.bid_id === job.winning_bid_id);
  return h(
    "section",
    { class: "sub", "data-testid": "work" },
    h("h3", null, "Work"),
    h(
      "p",
      null,
      `Awarded to ${winner?.agent_name ?? job.assigned_agent_id ?? "?"} at ${money(job.final_price_usd ?? winner?.final_price_usd ?? winner?.price_usd)}.`,
    ),
    job.status === "assigned"
      ? h(
          "div",
          { class: "actions" },
          h("span", { class: "muted" }, "Waiting for the agent to submit its result, or "),
          h("button", { type: "button", "data-action": "execute" }, "Run hosted execution"),
        )
      : null,
    job.result ? result(job.result, winner?.agent_name) : null,
    job.status === "pending_review" ? reviewForm(job.ai_quality_suggestion) : null,
    job.status === "completed" && (job.quality_score === null || job.quality_score === undefined)
      ? signOffForm()
      : null,
    job.status === "disputed"
      ? h("p", { class: "bad" }, "Hosted execution failed: the job is disputed.")
      : null,
    typeof job.quality_score === "number"
      ? h(
          "p",
          { "data-testid": "quality" },
          `Signed off with quality ${job.quality_score}`,
          job.human_review_decision ? ` (review: ${job.human_review_decision})` : "",
          job.human_review_feedback ? `: ${job.human_review_feedback}` : ".",
        )
      : null,
  );
}

/** Fields of a result that say who made it, not what it is. */
const RESULT_META = new Set(["success", "executed_by", "model", "tokens_used", "submitted_at"]);

/** A submitted result's text, or a hosted one's JSON. @param {Result} r @param {string} [agentName] */
function result(r, agentName) {
  const by = [
    agentName ?? r.executed_by ?? "?",
    r.model,
    r.tokens_used ? `${r.tokens_used} tokens` : "",
  ]
    .filter(Boolean)
    .join(" · ");
  const fields = Object.entries(r).filter(([k]) => !RESULT_META.has(k));
  const body =
    typeof r.output === "string"
      ? readable(r.output)
      : JSON.stringify(Object.fromEntries(fields), null, 2);
  return h(
    "div",
    { class: "result", "data-testid": "result" },
    h("p", { class: "muted" }, `${r.success === false ? "Failed result" : "Result"} by ${by}`),
    h("pre", null, body),
  );
}

/** An output that is a JSON object, indented; any other text as it is. @param {string} text */
function readable(text) {
  try {
    const value = JSON.parse(text);
    if (typeof value === "object" && value !== null) return JSON.stringify(value, null, 2);
  } catch {
    // plain text
  }
  return text;
}

/** The review of hosted work, preset to the AI's suggestion. @param {Suggestion | null | undefined} ai */
function reviewForm(ai) {
  const suggested = ai?.recommendation ?? "accept";
  return h(
    "form",
    { class: "decide", "data-action": "review", "data-testid": "review-form" },
    h(
      "p",
      null,
      "The service ran the work. Review it: accept pays the agreed price, partial half, reject refunds you.",
    ),
    ai
      ? h(
          "p",
          { class: "muted", "data-testid": "ai-suggestion" },
          `AI suggestion: ${ai.recommendation}, ${ai.suggested_overall}`,
          ai.feedback ? ` — ${ai.feedback}` : "",
        )
      : null,
    h(
      "label",
      null,
      "Decision ",
      h(
        "select",
        { name: "decision", "data-keep": "decision" },
        ["accept", "partial", "reject"].map((d) =>
          h("option", { value: d, selected: d === suggested }, d),
        ),
      ),
    ),
    h(
      "label",
      null,
      "Rating (0–1) ",
      h("input", {
        name: "rating",
        type: "number",
        min: "0",
        max: "1",
        step: "0.01",
        value: String(ai?.suggested_overall ?? 0.9),
        required: true,
        "data-keep": "rating",
      }),
    ),
    h(
      "label",
      { class: "wide" },
      "Feedback ",
      h("input", {
        name: "feedback",
        type: "text",
        placeholder: "what was good or missing",
        "data-keep": "feedback",
      }),
    ),
    h("button", { type: "submit", class: "primary" }, "Submit review"),
  );
}

function signOffForm() {
  return h(
    "form",
    { class: "decide", "data-action": "complete", "data-testid": "signoff-form" },
    h(
      "p",
      null,
      "The agent submitted its result. Sign off with a quality score: 0.7 or more pays the agreed price; less pays half, or refunds you.",
    ),
    h(
      "label",
      null,
      "Quality (0–1) ",
      h("input", {
        name: "quality",
        type: "number",
        min: "0",
        max: "1",
        step: "0.05",
        value: "0.9",
        required: true,
        "data-keep": "quality",
      }),
    ),
    h("button", { type: "submit", class: "primary" }, "Sign off and pay"),
  );
}

/** @param {Detail} detail */
function payment(detail) {
  const { escrow, payment: paid } = detail;
  if (!escrow && !paid) return null;
  return h(
    "section",
    { class: "sub", "data-testid": "payment" },
    h("h3", null, "Payment"),
    h(
      "table",
      { class: "txns" },
      h("tbody", null, escrow ? txnRow(escrow) : null, paid ? txnRow(paid) : null),
    ),
  );
}

/** @param {Txn} t */
function txnRow(t) {
  const to = t.payee_wallet
    ? `to ${t.payee_wallet}`
    : t.payer_wallet
      ? `from ${t.payer_wallet}`
      : "";
  return h(
    "tr",
    { "data-testid": "txn", "data-type": t.txn_type },
    h("td", null, h("code", null, t.txn_id)),
    h("td", null, t.txn_type),
    h("td", { class: "num" }, money(t.amount_usd)),
    h("td", null, pill(label(t.status), toneOf(t.status))),
    h("td", { class: "muted wallet" }, to),
  );
}

/** The listing's display string ("3.4 KB"), or bytes when a marketplace gives a number. @param {string | number} value */
function size(value) {
  if (typeof value === "string") return value;
  if (value < 1024) return `${value} B`;
  return value < 1024 * 1024
    ? `${(value / 1024).toFixed(1)} KB`
    : `${(value / 1024 / 1024).toFixed(1)} MB`;
}
