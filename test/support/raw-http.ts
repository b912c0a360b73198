/**
 * Raw HTTP to the marketplace: plain `fetch`, as a client of the real service would
 * send it, never a client of ours.
 */

export interface RawResponse {
  status: number;
  headers: Headers;
  text: string;
  /** The parsed body (null when it is not JSON). */
  json: unknown;
}

export interface Api {
  base: string;
  req(
    method: string,
    path: string,
    body?: unknown,
    headers?: Record<string, string>,
  ): Promise<RawResponse>;
  /** Sends `raw` as the request body with a JSON content type, unparsed. */
  raw(method: string, path: string, raw: string): Promise<RawResponse>;
}

async function read(res: Response): Promise<RawResponse> {
  const text = await res.text();
  let json: unknown = null;
  try {
    json = JSON.parse(text);
  } catch {
    json = null;
  }
  return { status: res.status, headers: res.headers, text, json };
}

export function api(base: string): Api {
  return {
    base,
    async req(method, path, body, headers = {}) {
      const init: RequestInit = { method, headers: { ...headers } };
      if (body !== undefined) {
        init.headers = { ...headers, "content-type": "application/json" };
        init.body = JSON.stringify(body);
      }
      return read(await fetch(`${base}${path}`, init));
    },
    async raw(method, path, raw) {
      return read(
        await fetch(`${base}${path}`, {
          method,
          headers: { "content-type": "application/json" },
          body: raw,
        }),
      );
    },
  };
}
