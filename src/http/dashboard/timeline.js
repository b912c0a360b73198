// @ts-check
// The events the page holds (from /api/events and the stream) and the timeline list.
import { byId, h } from "./dom.js";
import { fmtInt, fmtUsd, fullTime, timeOfDay } from "./format.js";

/** @typedef {import("./types.ts").RunnerEvent} RunnerEvent */

export const MAX_EVENTS = 2000;
const TIMELINE_ROWS = 150;

/** Oldest first. @type {RunnerEvent[]} */
export const events = [];
const keys = new Set();

/** @param {RunnerEvent} e */
const eventKey = (e) => `${e.at}|${e.kind}|${e.agent ?? ""}|${e.jobId ?? ""}|${e.message}`;

/**
 * Adds the events not seen yet; true when any was new.
 * @param {RunnerEvent[]} list
 */
export function addEvents(list) {
  let added = 0;
  for (const e of list) {
    const key = eventKey(e);
    if (keys.has(key)) continue;
    keys.add(key);
    events.push(e);
    added += 1;
  }
  if (added === 0) return false;
  events.sort((a, b) => Date.parse(a.at) - Date.parse(b.at));
  while (events.length > MAX_EVENTS) {
    const dropped = events.shift();
    if (dropped) keys.delete(eventKey(dropped));
  }
  renderTimeline();
  return true;
}

/** @param {RunnerEvent} e */
function eventRow(e) {
  const detail = [];
  if (e.amountUsd !== undefined) detail.push(fmtUsd(e.amountUsd, 3));
  if (e.tokens !== undefined) detail.push(`${fmtInt(e.tokens)} tok`);
  if (e.costUsd !== undefined) detail.push(fmtUsd(e.costUsd, 4));
  const jobId = e.jobId;
  return h(
    "li",
    { class: `event kind-${e.kind}`, "data-testid": "timeline-event", "data-kind": e.kind },
    h("time", { class: "ev-time", datetime: e.at, title: fullTime(e.at) }, timeOfDay(e.at)),
    h("span", { class: "ev-kind" }, e.kind),
    h("span", { class: "ev-agent" }, e.agent ?? "runner"),
    h(
      "span",
      { class: "ev-message" },
      e.message,
      jobId
        ? [
            " ",
            h(
              "button",
              {
                type: "button",
                class: "ev-job",
                "data-job-id": jobId,
                title: "Show each agent's decision on this job",
              },
              jobId,
            ),
          ]
        : null,
    ),
    h("span", { class: "ev-detail" }, detail.join(" · ")),
  );
}

export function renderTimeline() {
  const rows = events.slice(-TIMELINE_ROWS).reverse().map(eventRow);
  byId("timeline").replaceChildren(
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
  byId("timeline-summary").textContent =
    events.length > TIMELINE_ROWS
      ? `newest ${TIMELINE_ROWS} of ${events.length}`
      : `${events.length} events`;
}
