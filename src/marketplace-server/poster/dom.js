// @ts-check
// The poster page's DOM helpers, beside the shared ones (h, byId, pill) it passes on.
// Data is written as text and attributes, never parsed as HTML.

export { byId, h, pill } from "../../web/assets/dom.js";

/** @typedef {import("../../web/assets/dom.js").Child} Child */
/** @typedef {import("../../web/assets/dom.js").Tone} Tone */

/**
 * Replaces `container`'s content, keeping what the user typed in its `[data-keep]` fields
 * and which of them had the focus, so a refresh never eats a half-typed counter-offer.
 * @param {HTMLElement} container @param {Child} content
 */
export function replaceKeepingInput(container, content) {
  /** @type {Map<string, string>} */
  const typed = new Map();
  for (const el of container.querySelectorAll("[data-keep]")) {
    if (
      el instanceof HTMLInputElement ||
      el instanceof HTMLTextAreaElement ||
      el instanceof HTMLSelectElement
    )
      typed.set(el.dataset.keep ?? "", el.value);
  }
  const active = document.activeElement;
  const focused =
    active instanceof HTMLElement && container.contains(active) ? active.dataset.keep : undefined;
  container.replaceChildren(
    ...[content]
      .flat()
      .filter((c) => c !== null && c !== undefined && c !== false)
      .map((c) => (c instanceof Node ? c : String(c))),
  );
  for (const el of container.querySelectorAll("[data-keep]")) {
    if (
      !(
        el instanceof HTMLInputElement ||
        el instanceof HTMLTextAreaElement ||
        el instanceof HTMLSelectElement
      )
    )
      continue;
    const value = typed.get(el.dataset.keep ?? "");
    if (value !== undefined) el.value = value;
    if (focused && el.dataset.keep === focused) el.focus();
  }
}
