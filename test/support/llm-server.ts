import { randomUUID } from "node:crypto";
import {
  createServer,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type ServerResponse,
} from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { z } from "zod";

/**
 * An OpenAI-compatible chat-completions server on loopback for tests: records every
 * request and can be told to fail in the ways real LLM services do.
 */

/** A way for the next answer to go wrong. */
export type LlmFault =
  /** 429 with an OpenAI-style error body; `Retry-After` in seconds when given. */
  | { kind: "429"; retryAfterSeconds?: number; retryAfter?: string }
  | { kind: "500" }
  /** A proxy's HTML error page instead of JSON. */
  | { kind: "503-html" }
  /** Any status with an OpenAI-style error body (400, 401, 404, ...). */
  | { kind: "status"; status: number; message?: string }
  /** The normal answer, after a delay. */
  | { kind: "slow"; delayMs: number }
  /** 200 with a body that is not JSON at all. */
  | { kind: "malformed-json" }
  /** 200 with JSON cut off halfway (Content-Length matches, so the transfer is clean). */
  | { kind: "truncated-json" }
  /** 200 with a well-formed completion whose content is empty. */
  | { kind: "empty-completion" }
  /** Never answers, until the server closes. */
  | { kind: "hang" }
  /** Destroys the socket without an answer. */
  | { kind: "drop" };

const messageSchema = z.looseObject({
  role: z.string(),
  content: z.union([
    z.string(),
    z.array(z.looseObject({ type: z.string(), text: z.string().optional() })),
    z.null(),
  ]),
});

const chatRequestSchema = z.looseObject({
  model: z.string().min(1),
  messages: z.array(messageSchema).min(1),
  temperature: z.number().optional(),
  max_tokens: z.number().int().positive().optional(),
  max_completion_tokens: z.number().int().positive().optional(),
  stream: z.boolean().optional(),
  stream_options: z.looseObject({ include_usage: z.boolean().optional() }).optional(),
});

export type ChatRequestBody = z.infer<typeof chatRequestSchema>;
export type ChatMessage = z.infer<typeof messageSchema>;

export interface RecordedRequest {
  method: string;
  /** Path as requested, e.g. `/v1/chat/completions`. */
  path: string;
  headers: IncomingHttpHeaders;
  /** The parsed chat request, when the body was a valid one. */
  body: ChatRequestBody | undefined;
  rawBody: string;
  /** The fault applied to this request, if any. */
  fault: LlmFault["kind"] | undefined;
  receivedAt: number;
}

/** Produces the assistant's content for a request. */
export type Responder = (request: ChatRequestBody) => string;

export interface TestLlmServerOptions {
  /** The key expected in `Authorization: Bearer ...`; null accepts any request. */
  apiKey?: string | null;
  responder?: Responder;
}

export interface TestLlmServer {
  /** Base URL for LLM_BASE_URL, ending in `/v1`. */
  url: string;
  /** The key the server expects (empty when it accepts any). */
  apiKey: string;
  requests: RecordedRequest[];
  /** Requests that reached `/chat/completions` (the rest are 404s, model lists...). */
  completionRequests(): RecordedRequest[];
  /** Faults for the next requests, in order, before the default fault applies. */
  enqueue(...faults: LlmFault[]): void;
  /** A fault for every request once the queue is empty; undefined answers normally. */
  setDefaultFault(fault: LlmFault | undefined): void;
  setResponder(responder: Responder | undefined): void;
  /**
   * Holds every completion request from now on, unanswered, until `release()`: an
   * execution stays under way for exactly as long as a test needs, however slow the
   * machine (a `slow` fault's delay is a guess that a busy machine can outlast).
   */
  hold(): void;
  /** Lets the held requests through, in the order they came (faults apply then), and stops holding. */
  release(): void;
  /** How many completion requests are waiting at the hold now. */
  heldCount(): number;
  /** Forgets recorded requests and faults, releases a hold and restores the default responder. */
  reset(): void;
  close(): Promise<void>;
}

export const DEFAULT_TEST_LLM_KEY = "test-llm-key-5f1c9a7e0b";

/** The text of a message's content, whichever form it came in. */
export function messageText(message: ChatMessage): string {
  if (typeof message.content === "string") return message.content;
  if (message.content === null) return "";
  return message.content.map((part) => part.text ?? "").join("");
}

/** Deterministic default: names the model and echoes the first line of the user's message. */
export const defaultResponder: Responder = (request) => {
  const user = [...request.messages].reverse().find((m) => m.role === "user");
  const firstLine = (user ? messageText(user) : "").split("\n")[0]?.trim() ?? "";
  return `Answer from ${request.model}: ${firstLine || "(empty task)"}`;
};

/** A rough token count (words and punctuation) so usage is deterministic and plausible. */
function countTokens(text: string): number {
  return text.match(/\w+|[^\w\s]/g)?.length ?? 0;
}

function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    "content-type": "application/json",
    "content-length": Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}

function sendError(
  res: ServerResponse,
  status: number,
  message: string,
  type: string,
  headers: Record<string, string> = {},
): void {
  sendJson(res, status, { error: { message, type, code: status } }, headers);
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}

function completionBody(request: ChatRequestBody, content: string) {
  const promptTokens = request.messages.reduce((n, m) => n + countTokens(messageText(m)) + 4, 0);
  const completionTokens = countTokens(content);
  return {
    id: `chatcmpl-${randomUUID()}`,
    object: "chat.completion",
    created: Math.floor(Date.now() / 1000),
    model: request.model,
    choices: [
      { index: 0, message: { role: "assistant", content }, logprobs: null, finish_reason: "stop" },
    ],
    usage: {
      prompt_tokens: promptTokens,
      completion_tokens: completionTokens,
      total_tokens: promptTokens + completionTokens,
    },
  };
}

/** Server-sent events as OpenAI streams them: role, content pieces, stop, usage, [DONE]. */
function sendStream(res: ServerResponse, request: ChatRequestBody, content: string): void {
  const full = completionBody(request, content);
  const base = {
    id: full.id,
    object: "chat.completion.chunk",
    created: full.created,
    model: full.model,
  };
  res.writeHead(200, {
    "content-type": "text/event-stream",
    "cache-control": "no-cache",
    connection: "keep-alive",
  });
  const send = (data: unknown) => res.write(`data: ${JSON.stringify(data)}\n\n`);
  send({
    ...base,
    choices: [{ index: 0, delta: { role: "assistant", content: "" }, finish_reason: null }],
  });
  for (const piece of content.match(/\S+\s*/g) ?? []) {
    send({ ...base, choices: [{ index: 0, delta: { content: piece }, finish_reason: null }] });
  }
  send({ ...base, choices: [{ index: 0, delta: {}, finish_reason: "stop" }] });
  if (request.stream_options?.include_usage) send({ ...base, choices: [], usage: full.usage });
  res.end("data: [DONE]\n\n");
}

export async function startTestLlmServer(
  options: TestLlmServerOptions = {},
): Promise<TestLlmServer> {
  const expectedKey = options.apiKey === undefined ? DEFAULT_TEST_LLM_KEY : options.apiKey;
  const requests: RecordedRequest[] = [];
  const queue: LlmFault[] = [];
  let defaultFault: LlmFault | undefined;
  let responder: Responder = options.responder ?? defaultResponder;
  const sockets = new Set<Socket>();
  const pendingTimers = new Set<NodeJS.Timeout>();
  /** Open while undefined; requests wait on the promise while a hold is on. */
  let gate: PromiseWithResolvers<void> | undefined;
  let heldCount = 0;
  const release = () => {
    gate?.resolve();
    gate = undefined;
  };

  const later = (ms: number, fn: () => void) => {
    const timer = setTimeout(() => {
      pendingTimers.delete(timer);
      fn();
    }, ms);
    pendingTimers.add(timer);
  };

  const answer = (res: ServerResponse, body: ChatRequestBody) => {
    const content = responder(body);
    if (body.stream) sendStream(res, body, content);
    else sendJson(res, 200, completionBody(body, content));
  };

  const applyFault = (res: ServerResponse, body: ChatRequestBody, fault: LlmFault) => {
    switch (fault.kind) {
      case "429": {
        const retryAfter = fault.retryAfter ?? fault.retryAfterSeconds?.toString();
        sendError(res, 429, "Rate limit exceeded, slow down", "rate_limit_error", {
          ...(retryAfter === undefined ? {} : { "retry-after": retryAfter }),
        });
        return;
      }
      case "500":
        sendError(res, 500, "Internal server error", "server_error");
        return;
      case "503-html": {
        const html = "<html><body><h1>503 Service Temporarily Unavailable</h1></body></html>";
        res.writeHead(503, {
          "content-type": "text/html",
          "content-length": Buffer.byteLength(html),
        });
        res.end(html);
        return;
      }
      case "status":
        sendError(
          res,
          fault.status,
          fault.message ?? `Error ${fault.status}`,
          "invalid_request_error",
        );
        return;
      case "slow":
        later(fault.delayMs, () => {
          if (!res.destroyed) answer(res, body);
        });
        return;
      case "malformed-json": {
        const text = "this is not JSON {";
        res.writeHead(200, { "content-type": "application/json", "content-length": text.length });
        res.end(text);
        return;
      }
      case "truncated-json": {
        const full = JSON.stringify(completionBody(body, responder(body)));
        const text = full.slice(0, Math.floor(full.length / 2));
        res.writeHead(200, {
          "content-type": "application/json",
          "content-length": Buffer.byteLength(text),
        });
        res.end(text);
        return;
      }
      case "empty-completion":
        sendJson(res, 200, completionBody(body, ""));
        return;
      case "hang":
        return;
      case "drop":
        res.socket?.destroy();
        return;
    }
  };

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const rawBody = await readBody(req);
    const path = new URL(req.url ?? "/", "http://localhost").pathname;
    const record: RecordedRequest = {
      method: req.method ?? "GET",
      path,
      headers: req.headers,
      body: undefined,
      rawBody,
      fault: undefined,
      receivedAt: Date.now(),
    };
    requests.push(record);

    if (expectedKey !== null && req.headers.authorization !== `Bearer ${expectedKey}`) {
      sendError(res, 401, "Invalid API key provided", "authentication_error");
      return;
    }
    if (req.method === "GET" && (path === "/models" || path === "/v1/models")) {
      sendJson(res, 200, { object: "list", data: [{ id: "test-model", object: "model" }] });
      return;
    }
    if (path !== "/chat/completions" && path !== "/v1/chat/completions") {
      sendError(res, 404, `No route ${req.method} ${path}`, "not_found_error");
      return;
    }
    if (req.method !== "POST") {
      sendError(res, 405, "Use POST", "invalid_request_error");
      return;
    }
    let json: unknown;
    try {
      json = JSON.parse(rawBody);
    } catch {
      sendError(res, 400, "Request body is not JSON", "invalid_request_error");
      return;
    }
    const parsed = chatRequestSchema.safeParse(json);
    if (!parsed.success) {
      sendError(res, 400, `Invalid request: ${parsed.error.message}`, "invalid_request_error");
      return;
    }
    record.body = parsed.data;
    if (gate) {
      heldCount++;
      await gate.promise.finally(() => heldCount--);
      if (res.destroyed) return;
    }
    const fault = queue.shift() ?? defaultFault;
    record.fault = fault?.kind;
    if (fault) applyFault(res, parsed.data, fault);
    else answer(res, parsed.data);
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      if (!res.headersSent) sendError(res, 500, String(error), "server_error");
      else res.destroy();
    });
  });
  server.on("connection", (socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}/v1`,
    apiKey: expectedKey ?? "",
    requests,
    completionRequests: () => requests.filter((r) => r.path.endsWith("/chat/completions")),
    enqueue: (...faults) => {
      queue.push(...faults);
    },
    setDefaultFault: (fault) => {
      defaultFault = fault;
    },
    setResponder: (next) => {
      responder = next ?? options.responder ?? defaultResponder;
    },
    hold: () => {
      gate ??= Promise.withResolvers<void>();
    },
    release,
    heldCount: () => heldCount,
    reset: () => {
      release();
      requests.length = 0;
      queue.length = 0;
      defaultFault = undefined;
      responder = options.responder ?? defaultResponder;
    },
    close: async () => {
      release();
      for (const timer of pendingTimers) clearTimeout(timer);
      pendingTimers.clear();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      // Hanging and keep-alive connections would hold close() open forever.
      for (const socket of sockets) socket.destroy();
      server.closeAllConnections();
      await closed;
    },
  };
}
