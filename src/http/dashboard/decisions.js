// @ts-check
// Why each agent bid on a job or let it pass (GET /api/decisions), for a job picked in the
// timeline, among its latest jobs, or by its id.
import { byId, h, pill, timeEl } from "./dom.js";
import { fmtUsd, plural } from "./format.js";
import { getJson, HttpError } from "./stream.js";

/** @typedef {import("./types.ts").DecisionRecord} DecisionRecord */
/** @typedef {import("./types.ts").SkipReason} SkipReason */
/** @typedef {import("./types.ts").RunnerEvent} RunnerEvent */

const RECENT_JOBS = 8;
const REFRESH_MS = 5000;

/** @type {Record<SkipReason, string>} */
const REASONS = {
  budget_missing: "no usable budget",
  capability: "capability below the minimum",
  already_bid: "already bid",
  no_keyword: "no keyword matched",
  declined: "declined",
  below_floor: "budget below the price floor",
  spend_cap: "spend cap reached",
  capacity_ranked_out: "capacity short: better jobs first",
  evaluation_failed: "evaluation failed",
  bid_refused: "bid refused",
  bid_failed: "bid failed",
  not_our_bid: "assigned through a bid not ours: not executed",
  too_large: "job too large to read",
};

/** @type {string | null} */
let selected = null;
let unavailable = false;
let lastRefresh = 0;

/** @param {string} path */
const fetchDecisions = (path) =>
  getJson(path).then((body) => /** @type {{ decisions: DecisionRecord[] }} */ (body).decisions);

/** @param {unknown} error */
function showFailure(error) {
  if (error instanceof HttpError && error.status === 404) {
    unavailable = true;
    byId("decisions-jobs").replaceChildren();
    byId("decisions-body").replaceChildren(
      h(
        "p",
        { class: "empty", "data-testid": "decisions-unavailable" },
        "Decisions are not available: this runner does not serve /api/decisions.",
      ),
    );
    return;
  }
  const reason = error instanceof Error ? error.message : String(error);
  byId("decisions-body").replaceChildren(
    h("p", { class: "empty tone-bad" }, `Could not load the decisions (${reason}).`),
  );
}

/** @param {DecisionRecord} d */
function decisionRow(d) {
  const what =
    d.outcome === "bid"
      ? [
          pill("bid", "ok"),
          " ",
          h(
            "span",
            { class: "dec-terms" },
            d.priceUsd !== undefined ? fmtUsd(d.priceUsd, 3) : "",
            d.confidence !== undefined ? ` · confidence ${d.confidence.toFixed(2)}` : "",
          ),
        ]
      : [
          pill("skip", "muted"),
          " ",
          h(
            "strong",
            { class: "dec-reason" },
            d.reason ? (REASONS[d.reason] ?? d.reason) : "skipped",
          ),
        ];
  return h(
    "li",
    {
      class: "decision",
      "data-testid": "decision",
      "data-agent": d.agent,
      "data-outcome": d.outcome,
      "data-reason": d.reason,
    },
    h("span", { class: "dec-agent" }, d.agent),
    h("span", { class: "dec-what" }, what),
    h(
      "span",
      { class: "dec-detail" },
      d.detail,
      // With tracing on (OTEL_EXPORTER_OTLP_ENDPOINT): the id to look the job up by in the tracing backend.
      d.traceId
        ? [
            " · trace ",
            h(
              "code",
              {
                class: "dec-trace",
                "data-testid": "decision-trace",
                title: "OpenTelemetry trace id",
              },
              d.traceId,
            ),
          ]
        : null,
    ),
    h("span", { class: "dec-time" }, timeEl(d.at)),
  );
}

/** @param {string} jobId @param {DecisionRecord[]} list */
function renderJob(jobId, list) {
  const bids = list.filter((d) => d.outcome === "bid").length;
  byId("decisions-job").replaceChildren(
    h("code", { "data-testid": "decisions-job-id" }, jobId),
    ` · ${plural(bids, "bid")}, ${list.length - bids} skipped`,
  );
  byId("decisions-body").replaceChildren(
    list.length
      ? h("ol", { class: "decisions", "data-testid": "decision-list" }, list.map(decisionRow))
      : h("p", { class: "empty" }, "No agent has decided on this job yet."),
  );
  for (const chip of byId("decisions-jobs").querySelectorAll("[data-job-id]")) {
    chip.setAttribute("aria-pressed", String(chip.getAttribute("data-job-id") === jobId));
  }
}

/**
 * Shows each agent's decision on one job. Asked only for a job picked (a runner without
 * the endpoint answers 404, and a page that merely loads should not log errors for it).
 * @param {string} jobId
 */
export async function showJob(jobId) {
  if (selected !== jobId) {
    byId("decisions-job").replaceChildren(h("code", { "data-testid": "decisions-job-id" }, jobId));
  }
  selected = jobId;
  lastRefresh = Date.now();
  if (unavailable) return;
  try {
    const list = await fetchDecisions(`/api/decisions?job_id=${encodeURIComponent(jobId)}`);
    if (selected === jobId) renderJob(jobId, list);
  } catch (error) {
    showFailure(error);
  }
}

/** Reloads the picked job's decisions (agents decide as they see it), every few seconds at most. */
export function refreshDecisions() {
  if (selected && !unavailable && Date.now() - lastRefresh >= REFRESH_MS) void showJob(selected);
}

/**
 * The latest jobs of the timeline, newest first, as buttons; a job no agent bid on is
 * not among them: its id goes in the form.
 * @param {RunnerEvent[]} events oldest first
 */
export function renderRecentJobs(events) {
  /** @type {string[]} */
  const jobs = [];
  for (let i = events.length - 1; i >= 0 && jobs.length < RECENT_JOBS; i -= 1) {
    const jobId = events[i]?.jobId;
    if (jobId && !jobs.includes(jobId)) jobs.push(jobId);
  }
  byId("decisions-jobs").replaceChildren(
    ...jobs.map((jobId) =>
      h(
        "button",
        {
          type: "button",
          class: "job-chip",
          "data-job-id": jobId,
          "aria-pressed": String(jobId === selected),
        },
        jobId,
      ),
    ),
  );
}

/** The form for any job id (one that no agent bid on has no event to click). */
export function listenForJobIds() {
  const form = byId("decisions-form");
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const input = form.querySelector("input");
    const jobId = input?.value.trim();
    if (jobId) void showJob(jobId);
  });
}
