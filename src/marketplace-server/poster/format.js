// @ts-check
// How the page writes money, times and statuses.

/** @param {number | null | undefined} usd */
export const money = (usd) => (typeof usd === "number" ? `$${usd.toFixed(2)}` : "—");

/** A time without a zone is UTC, as the API writes it. @param {string | null | undefined} iso */
export function parseTime(iso) {
  if (!iso) return null;
  const time = Date.parse(/[zZ]|[+-]\d\d:?\d\d$/.test(iso) ? iso : `${iso}Z`);
  return Number.isNaN(time) ? null : time;
}

/**
 * A clock time ("14:05:09"), with the date when it is not today: the panels re-render only
 * when their data changes, so a relative "5 s ago" would go stale.
 * @param {string | null | undefined} iso
 */
export function at(iso) {
  const time = parseTime(iso);
  if (time === null) return "—";
  const date = new Date(time);
  const clock = date.toLocaleTimeString([], {
    hour: "2-digit",
    minute: "2-digit",
    second: "2-digit",
  });
  return date.toDateString() === new Date().toDateString()
    ? clock
    : `${date.toLocaleDateString()} ${clock}`;
}

/** @typedef {import("./dom.js").Tone} Tone */

/** @type {Record<string, Tone>} */
const TONES = {
  posted: "info",
  open: "info",
  bidding: "info",
  negotiating: "warn",
  awaiting_approval: "warn",
  assigned: "info",
  in_progress: "info",
  pending_review: "warn",
  completed: "ok",
  disputed: "bad",
  cancelled: "bad",
  pending: "info",
  counter_offered: "warn",
  counter_accepted: "ok",
  accepted: "ok",
  rejected: "bad",
  withdrawn: "muted",
  escrowed: "info",
  held: "info",
  released: "ok",
  partial: "warn",
  refunded: "bad",
};

/** @param {string} status @returns {Tone} */
export const toneOf = (status) => TONES[status] ?? "muted";

/** "awaiting_approval" → "awaiting approval". @param {string} status */
export const label = (status) => status.replaceAll("_", " ");
