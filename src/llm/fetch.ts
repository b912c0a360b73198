import { type Dispatcher, fetch as undiciFetch } from "undici";

type FetchFunction = typeof globalThis.fetch;

/**
 * A fetch for the AI SDK that goes through the given undici dispatcher (the shared
 * pool), so LLM calls reuse the process's keep-alive sockets and connection cap.
 */
export function dispatcherFetch(dispatcher: Dispatcher): FetchFunction {
  const viaPool = async (input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
    const url = typeof input === "string" ? input : input instanceof URL ? input.href : input.url;
    const body = init?.body;
    const response = await undiciFetch(url, {
      method: init?.method,
      headers: Object.fromEntries(new Headers(init?.headers)),
      // The SDK posts JSON strings; anything else is read into bytes first.
      body:
        body == null || typeof body === "string"
          ? (body ?? undefined)
          : await new Response(body).bytes(),
      signal: init?.signal ?? undefined,
      dispatcher,
    });
    // undici's Response is the one Node's own fetch returns; only the type declarations differ.
    return response as unknown as Response;
  };
  return viaPool;
}
