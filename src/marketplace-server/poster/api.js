// @ts-check
// The page's calls: the marketplace's public JSON API, as any client makes them, plus
// /poster/act/… for the calls that need the poster signed in (the marketplace signs in).

/** @typedef {{ ok: boolean, status: number, body: any }} Answer */

/** The `detail` of an error answer, as one line. @param {Answer} answer */
export function detailOf(answer) {
  const detail = answer.body?.detail;
  if (typeof detail === "string") return detail;
  if (Array.isArray(detail))
    return detail.map((d) => `${(d.loc ?? []).join(".")}: ${d.msg}`).join("; ");
  return typeof answer.body === "string" && answer.body ? answer.body : `HTTP ${answer.status}`;
}

/**
 * @param {string} method @param {string} path
 * @param {{ json?: unknown, form?: FormData }} [body]
 * @returns {Promise<Answer>}
 */
export async function call(method, path, body = {}) {
  /** @type {RequestInit} */
  const init = { method, headers: { accept: "application/json" } };
  if (body.json !== undefined) {
    init.headers = { ...init.headers, "content-type": "application/json" };
    init.body = JSON.stringify(body.json);
  } else if (body.form) init.body = body.form;
  const res = await fetch(path, init);
  const text = await res.text();
  let parsed = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // a plain-text answer (the service's 500) stays text
  }
  return { ok: res.ok, status: res.status, body: parsed };
}

/** GET, or null when the answer is not a success. @param {string} path */
export async function read(path) {
  const answer = await call("GET", path);
  return answer.ok ? answer.body : null;
}

/** @param {string} id */
export const enc = (id) => encodeURIComponent(id);
