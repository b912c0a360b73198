// @ts-check
// DOM helpers both pages share (the runner's dashboard, the marketplace's poster page).
// Data is written as text and attributes, never parsed as HTML.

/** @typedef {Node | string | number | null | undefined | false} Leaf */
/** @typedef {Leaf | Leaf[]} Child */
/** @typedef {Record<string, string | number | boolean | null | undefined>} Attrs */

/**
 * Creates an element; `class` sets the class name, a null/undefined/false attribute is left
 * out and a true one is set empty (a boolean attribute such as `disabled`).
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

/** A status pill, coloured by base.css. @param {string} text @param {Tone} tone @param {Attrs} [attrs] */
export function pill(text, tone, attrs) {
  return h("span", { ...attrs, class: `pill pill-${tone}` }, text);
}
