// @ts-check
// Small DOM helpers. Data is written as text and attributes, never parsed as HTML.
import { duration, fullTime, relTime } from "./format.js";

/** @typedef {Node | string | number | null | undefined | false} Leaf */
/** @typedef {Leaf | Leaf[]} Child */
/** @typedef {Record<string, string | number | boolean | null | undefined>} Attrs */

/**
 * Creates an element; `class` sets the class name, a null/undefined/false attribute is left out.
 * @template {keyof HTMLElementTagNameMap} K
 * @param {K} tag
 * @param {Attrs | null} [attrs]
 * @param {...Child} children
 * @returns {HTMLElementTagNameMap[K]}
 */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs ?? {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name === "class") el.className = String(value);
    else el.setAttribute(name, String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
  return el;
}

/** The page's element with this id (the page's own markup has it). @param {string} id */
export function byId(id) {
  const el = document.getElementById(id);
  if (!el) throw new Error(`the page has no #${id}`);
  return el;
}

/** @typedef {"ok" | "warn" | "bad" | "muted"} Tone */

/** @param {string} text @param {Tone} tone @param {Attrs} [attrs] */
export function pill(text, tone, attrs) {
  return h("span", { ...attrs, class: `pill pill-${tone}` }, text);
}

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
