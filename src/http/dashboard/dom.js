// @ts-check
// The dashboard's DOM helpers, beside the shared ones (h, byId, pill) it passes on.
// Data is written as text and attributes, never parsed as HTML.
import { h } from "../../web/assets/dom.js";
import { duration, fullTime, relTime } from "./format.js";

export { byId, h, pill } from "../../web/assets/dom.js";

/** @typedef {import("../../web/assets/dom.js").Child} Child */
/** @typedef {import("../../web/assets/dom.js").Tone} Tone */

/**
 * A <time> whose relative text the ticker refreshes.
 * @param {string | null | undefined} iso
 * @param {string} [fallback]
 */
export function timeEl(iso, fallback = "never") {
  if (!iso) return h("span", { class: "muted" }, fallback);
  return h("time", { datetime: iso, "data-rel": iso, title: fullTime(iso) }, relTime(iso));
}

/** One entry of the header's fact list. @param {string} label @param {...Child} value */
export function fact(label, ...value) {
  return h("div", { class: "fact" }, h("dt", null, label), h("dd", null, ...value));
}

/** Refreshes relative times and durations in place, without a new snapshot. */
export function tickTimes() {
  for (const el of document.querySelectorAll("[data-rel]")) {
    if (el instanceof HTMLElement) el.textContent = relTime(el.dataset.rel);
  }
  for (const el of document.querySelectorAll("[data-since]")) {
    if (el instanceof HTMLElement && el.dataset.since) el.textContent = duration(el.dataset.since);
  }
}

/**
 * Calls `handler` with the job id of a clicked `[data-job-id]` inside `container`,
 * for the rows there now and those rendered later.
 * @param {HTMLElement} container @param {(jobId: string) => void} handler
 */
export function onJobClick(container, handler) {
  container.addEventListener("click", (event) => {
    const target = event.target instanceof Element ? event.target.closest("[data-job-id]") : null;
    const jobId = target instanceof HTMLElement ? target.dataset.jobId : undefined;
    if (jobId) handler(jobId);
  });
}
