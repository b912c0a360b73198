// @ts-check
// Numbers, money and times as the dashboard writes them: pure functions, 24-hour clock.

/** Server clock minus browser clock, so relative times and chart buckets match the runner. */
let skewMs = 0;

/** @param {string | undefined} nowIso the server's `now` from a snapshot */
export function syncClock(nowIso) {
  const now = nowIso ? Date.parse(nowIso) : Number.NaN;
  if (Number.isFinite(now)) skewMs = now - Date.now();
}

export const serverNow = () => Date.now() + skewMs;

/** @param {string | null | undefined} iso */
export function relTime(iso) {
  if (!iso) return "never";
  const ms = serverNow() - Date.parse(iso);
  if (!Number.isFinite(ms)) return "?";
  const s = Math.round(ms / 1000);
  if (s < 5) return "just now";
  if (s < 60) return `${s} s ago`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ago`;
  const hrs = Math.floor(m / 60);
  if (hrs < 48) return `${hrs} h ${m % 60} min ago`;
  return `${Math.floor(hrs / 24)} d ago`;
}

/** @param {string} fromIso */
export function duration(fromIso) {
  const s = Math.max(0, Math.round((serverNow() - Date.parse(fromIso)) / 1000));
  const d = Math.floor(s / 86400);
  const hrs = Math.floor((s % 86400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  if (d > 0) return `${d} d ${hrs} h`;
  if (hrs > 0) return `${hrs} h ${m} min`;
  if (m > 0) return `${m} min`;
  return `${s} s`;
}

/** @param {number | null | undefined} n */
export const fmtInt = (n) => Number(n ?? 0).toLocaleString("en-US");

/**
 * @param {number | null | undefined} n
 * @param {number} [digits] fixed digits; by default 4 below ten cents, else 2
 */
export function fmtUsd(n, digits) {
  const v = Number(n ?? 0);
  const d = digits ?? (v !== 0 && Math.abs(v) < 0.1 ? 4 : 2);
  return `$${v.toFixed(d)}`;
}

/** @param {number | null | undefined} n */
export function fmtTokens(n) {
  const v = Number(n ?? 0);
  if (v >= 1e6) return `${(v / 1e6).toFixed(2)} M`;
  if (v >= 1e4) return `${(v / 1e3).toFixed(1)} k`;
  return fmtInt(v);
}

/** @param {string | null | undefined} model */
export const shortModel = (model) => (model ? (model.split("/").pop() ?? model) : "—");

/** h23, not hour12: false, which some locales render as "24:05" after midnight. */
const HMS = new Intl.DateTimeFormat("en-GB", {
  hour: "2-digit",
  minute: "2-digit",
  second: "2-digit",
  hourCycle: "h23",
});
const HM = new Intl.DateTimeFormat("en-GB", {
  hour: "2-digit",
  minute: "2-digit",
  hourCycle: "h23",
});
const FULL = new Intl.DateTimeFormat("en-GB", {
  dateStyle: "medium",
  timeStyle: "medium",
  hourCycle: "h23",
});

/** "15:42:07" @param {string | number | Date} at */
export const timeOfDay = (at) => HMS.format(new Date(at));
/** "15:42" (chart axes and legends) @param {string | number | Date} at */
export const clock = (at) => HM.format(new Date(at));
/** "25 Nov 2026, 15:42:07" (tooltips) @param {string | number | Date} at */
export const fullTime = (at) => FULL.format(new Date(at));

/** @param {number} n @param {string} one @param {string} [many] */
export const plural = (n, one, many = `${one}s`) => `${fmtInt(n)} ${n === 1 ? one : many}`;
