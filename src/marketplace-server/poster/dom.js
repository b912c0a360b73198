// @ts-check
// Small DOM helpers, as the dashboard's: data is written as text and attributes, never parsed as HTML.

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
    else el.setAttribute(name, value === true ? "" : String(value));
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

/** @typedef {"ok" | "warn" | "bad" | "muted" | "info"} Tone */

/** @param {string} text @param {Tone} tone @param {Attrs} [attrs] */
export function pill(text, tone, attrs) {
  return h("span", { ...attrs, class: `pill pill-${tone}` }, text);
}

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
