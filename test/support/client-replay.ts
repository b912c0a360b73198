import { expect } from "vitest";
import type { RawResponse } from "./raw-http.ts";

/**
 * Checks shared by the replays of the real service's clients
 * (test/marketplace-server/clients/): the answers FastAPI and Starlette give that are
 * not the handler's own.
 */

/** httpx `params=`: every value as its text, in the order given. */
export function httpxParams(params: Record<string, string | number>): string {
  return new URLSearchParams(Object.entries(params).map(([k, v]) => [k, String(v)])).toString();
}

/** One `missing` item of FastAPI's 422 detail list (pydantic v2, without `url`). */
export function missing(loc: string[], input: unknown = null) {
  return { type: "missing", loc, msg: "Field required", input };
}

/** FastAPI's 422 for required fields that are absent, in the order FastAPI lists them. */
export function expectMissing(res: RawResponse, items: ReturnType<typeof missing>[]): void {
  expect(res.status, res.text).toBe(422);
  expect(res.json).toEqual({ detail: items });
}

/** An uncaught exception in a handler: Starlette's bare 500, plain text. */
export function expectBare500(res: RawResponse): void {
  expect(res.status, res.text).toBe(500);
  expect(res.headers.get("content-type")).toMatch(/^text\/plain/);
  expect(res.text).toBe("Internal Server Error");
}

/** A path served with other methods only: Starlette's 405. */
export function expectMethodNotAllowed(res: RawResponse): void {
  expect(res.status, res.text).toBe(405);
  expect(res.json).toEqual({ detail: "Method Not Allowed" });
}

/** auth.py `require_auth` without a valid session. */
export function expectAuthRequired(res: RawResponse): void {
  expect(res.status, res.text).toBe(401);
  expect(res.json).toEqual({
    detail: "Authentication required. Use /api/auth/challenge to get a signing challenge.",
  });
  expect(res.headers.get("www-authenticate")).toBe("Bearer");
}

/** An `HTTPException(status, detail)` of api.py. */
export function expectDetail(res: RawResponse, status: number, detail: string): void {
  expect(res.status, res.text).toBe(status);
  expect(res.json).toEqual({ detail });
}
