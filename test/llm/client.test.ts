import { Writable } from "node:stream";
import { inspect } from "node:util";
import pino from "pino";
import type { Dispatcher } from "undici";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { createLlmClient, type LlmClientOptions } from "../../src/llm/client.ts";
import { LlmError, LlmNotConfiguredError } from "../../src/llm/types.ts";
import { createMetrics, type Metrics } from "../../src/metrics.ts";
import { createSharedPool } from "../../src/pool.ts";
import { startTestLlmServer, type TestLlmServer } from "../support/llm-server.ts";
import { waitFor } from "../support/wait.ts";

const MODEL = "accounts/fireworks/models/llama-v3p3-70b-instruct";

let server: TestLlmServer;
let pool: Dispatcher;

beforeAll(async () => {
  server = await startTestLlmServer();
  pool = createSharedPool();
});
afterAll(async () => {
  await server.close();
  await pool.close();
});
afterEach(() => server.reset());

/** A sleep that waits for nothing and remembers what it was asked (honours aborts). */
function fakeSleep() {
  const delays: number[] = [];
  const sleep = async (ms: number, signal?: AbortSignal) => {
    delays.push(ms);
    signal?.throwIfAborted();
  };
  return { delays, sleep };
}

function client(overrides: Partial<LlmClientOptions> = {}) {
  const { delays, sleep } = fakeSleep();
  const metrics = createMetrics({ processMetrics: false });
  const llm = createLlmClient({
    apiKey: server.apiKey,
    baseUrl: server.url,
    dispatcher: pool,
    metrics,
    sleep,
    random: () => 0.5,
    ...overrides,
  });
  return { llm, delays, metrics };
}

const request = {
  model: MODEL,
  system: "You are SchemaArchitect, a database design specialist.",
  prompt: "Design a schema for a bookings REST API\nwith rooms and guests",
  temperature: 0.4,
  maxTokens: 4096,
};

async function counter(metrics: Metrics, name: keyof Metrics, labels: Record<string, string>) {
  const metric = metrics[name];
  if (!("get" in metric)) throw new Error(`${String(name)} is not a metric`);
  const { values } = await metric.get();
  const found = values.find((v) =>
    Object.entries(labels).every(([k, want]) => (v.labels as Record<string, unknown>)[k] === want),
  );
  return found?.value ?? 0;
}

async function failure(promise: Promise<unknown>): Promise<LlmError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(LlmError);
  return error as LlmError;
}

describe("LLM client against the test server", () => {
  it("returns the completion with usage, model and attempts", async () => {
    const { llm, delays } = client();
    expect(llm.configured).toBe(true);
    const completion = await llm.complete(request);
    expect(completion.text).toBe(`Answer from ${MODEL}: Design a schema for a bookings REST API`);
    expect(completion.model).toBe(MODEL);
    expect(completion.attempts).toBe(1);
    expect(completion.usage.inputTokens).toBeGreaterThan(0);
    expect(completion.usage.outputTokens).toBeGreaterThan(0);
    expect(completion.usage.totalTokens).toBe(
      completion.usage.inputTokens + completion.usage.outputTokens,
    );
    expect(completion.latencyMs).toBeGreaterThanOrEqual(0);
    expect(delays).toEqual([]);
  });

  it("sends the key, system prompt, user prompt, temperature and max_tokens", async () => {
    const { llm } = client();
    await llm.complete(request);
    const [recorded] = server.completionRequests();
    expect(recorded?.path).toBe("/v1/chat/completions");
    expect(recorded?.headers.authorization).toBe(`Bearer ${server.apiKey}`);
    expect(recorded?.body).toMatchObject({
      model: MODEL,
      temperature: 0.4,
      max_tokens: 4096,
      messages: [
        { role: "system", content: request.system },
        { role: "user", content: request.prompt },
      ],
    });
    expect(recorded?.body?.stream).not.toBe(true);
  });

  it("uses the responder's text", async () => {
    server.setResponder((body) => `echo ${body.messages.length}`);
    const { llm } = client();
    expect((await llm.complete(request)).text).toBe("echo 2");
  });

  it("retries a 429 after the Retry-After seconds", async () => {
    server.enqueue({ kind: "429", retryAfterSeconds: 7 }, { kind: "429", retryAfterSeconds: 2 });
    const { llm, delays, metrics } = client();
    const completion = await llm.complete(request);
    expect(completion.attempts).toBe(3);
    expect(delays).toEqual([7000, 2000]);
    expect(server.completionRequests()).toHaveLength(3);
    expect(await counter(metrics, "llmRequests", { model: MODEL, outcome: "retry" })).toBe(2);
    expect(await counter(metrics, "llmRequests", { model: MODEL, outcome: "ok" })).toBe(1);
  });

  it("honours a Retry-After HTTP-date", async () => {
    server.enqueue({ kind: "429", retryAfter: new Date(Date.now() + 10_000).toUTCString() });
    const { llm, delays } = client();
    await llm.complete(request);
    expect(delays).toHaveLength(1);
    // Second resolution of the date: somewhere in (8 s, 10 s].
    expect(delays[0]).toBeGreaterThan(8000);
    expect(delays[0]).toBeLessThanOrEqual(10_000);
  });

  it("caps a long Retry-After", async () => {
    server.enqueue({ kind: "429", retryAfterSeconds: 3600 });
    const { llm, delays } = client({ maxRetryAfterMs: 30_000 });
    await llm.complete(request);
    expect(delays).toEqual([30_000]);
  });

  it("gives up when the wait would overrun the wall-time budget", async () => {
    server.setDefaultFault({ kind: "429", retryAfterSeconds: 50 });
    const { llm, delays } = client({ maxTotalMs: 20_000 });
    const error = await failure(llm.complete(request));
    expect(error.attempts).toBe(1);
    expect(error.retryable).toBe(true);
    expect(error.message).toMatch(
      /^LLM answered 429: .*gave up after 1 attempts \(wall-time budget of 20 s spent\)$/,
    );
    expect(delays).toEqual([]);
  });

  it("retries a 500 with exponential backoff and full jitter", async () => {
    server.enqueue({ kind: "500" }, { kind: "500" }, { kind: "503-html" });
    const { llm, delays } = client({ baseDelayMs: 500, maxDelayMs: 20_000 });
    const completion = await llm.complete(request);
    expect(completion.attempts).toBe(4);
    // random() pinned at 0.5: half of 500, 1000, 2000.
    expect(delays).toEqual([250, 500, 1000]);
  });

  it("fails with the last status after maxAttempts", async () => {
    server.setDefaultFault({ kind: "500" });
    const { llm, metrics } = client({ maxAttempts: 3 });
    const error = await failure(llm.complete(request));
    expect(error.message).toBe("LLM answered 500: Internal server error; gave up after 3 attempts");
    expect(error.attempts).toBe(3);
    expect(server.completionRequests()).toHaveLength(3);
    expect(await counter(metrics, "llmRequests", { model: MODEL, outcome: "retry" })).toBe(2);
    expect(await counter(metrics, "llmRequests", { model: MODEL, outcome: "error" })).toBe(1);
  });

  it("does not retry a 401", async () => {
    const { llm, delays } = client({ apiKey: "wrong-key-123456" });
    const error = await failure(llm.complete(request));
    expect(error.message).toBe("LLM answered 401: Invalid API key provided");
    expect(error.retryable).toBe(false);
    expect(error.attempts).toBe(1);
    expect(server.completionRequests()).toHaveLength(1);
    expect(delays).toEqual([]);
  });

  it("does not retry a 400", async () => {
    server.enqueue({ kind: "status", status: 400, message: "Model not found" });
    const { llm } = client();
    const error = await failure(llm.complete(request));
    expect(error.message).toBe("LLM answered 400: Model not found");
    expect(server.completionRequests()).toHaveLength(1);
  });

  it("retries malformed JSON, then fails after maxAttempts", async () => {
    server.setDefaultFault({ kind: "malformed-json" });
    const { llm, delays } = client({ maxAttempts: 3 });
    const error = await failure(llm.complete(request));
    expect(error.message).toBe("LLM answered malformed JSON; gave up after 3 attempts");
    expect(error.retryable).toBe(true);
    expect(server.completionRequests()).toHaveLength(3);
    expect(delays).toHaveLength(2);
  });

  it("recovers from truncated JSON", async () => {
    server.enqueue({ kind: "truncated-json" });
    const { llm } = client();
    const completion = await llm.complete(request);
    expect(completion.attempts).toBe(2);
  });

  it("treats an empty completion as a retryable failure", async () => {
    server.setDefaultFault({ kind: "empty-completion" });
    const { llm, metrics } = client({ maxAttempts: 2 });
    const error = await failure(llm.complete(request));
    expect(error.message).toBe("LLM answered an empty completion; gave up after 2 attempts");
    expect(server.completionRequests()).toHaveLength(2);
    expect(await counter(metrics, "llmTokens", { model: MODEL, kind: "input" })).toBe(0);
  });

  it("recovers from a dropped connection", async () => {
    server.enqueue({ kind: "drop" });
    const { llm } = client();
    const completion = await llm.complete(request);
    expect(completion.attempts).toBe(2);
  });

  it("reports a dropped connection plainly when it keeps happening", async () => {
    server.setDefaultFault({ kind: "drop" });
    const { llm } = client({ maxAttempts: 2 });
    const error = await failure(llm.complete(request));
    expect(error.message).toMatch(/^LLM unreachable: .+; gave up after 2 attempts$/);
  });

  it("times out a hanging request per attempt and says so", async () => {
    server.setDefaultFault({ kind: "hang" });
    const { llm } = client({ timeoutMs: 200, maxAttempts: 2 });
    const error = await failure(llm.complete(request));
    expect(error.message).toBe("LLM request timed out after 0.2 s; gave up after 2 attempts");
    expect(error.attempts).toBe(2);
    expect(server.completionRequests()).toHaveLength(2);
  });

  it("answers a slow server within the timeout", async () => {
    server.enqueue({ kind: "slow", delayMs: 100 });
    const { llm } = client({ timeoutMs: 30_000 });
    expect((await llm.complete(request)).attempts).toBe(1);
  });

  it("stops at once when the caller aborts during an attempt", async () => {
    server.setDefaultFault({ kind: "hang" });
    const { llm } = client({ timeoutMs: 60_000 });
    const controller = new AbortController();
    const pending = llm.complete({ ...request, signal: controller.signal });
    await waitFor(
      "the request to reach the server",
      () => server.completionRequests().length === 1,
    );
    controller.abort(new Error("job deadline"));
    const error = await failure(pending);
    expect(error.message).toBe("LLM call aborted after 1 attempt(s)");
    expect(error.retryable).toBe(false);
    expect(server.completionRequests()).toHaveLength(1);
  });

  it("stops retrying when the caller aborts during the backoff", async () => {
    server.setDefaultFault({ kind: "500" });
    const controller = new AbortController();
    const delays: number[] = [];
    const { llm } = client({
      sleep: async (ms, signal) => {
        delays.push(ms);
        controller.abort();
        signal?.throwIfAborted();
      },
    });
    const error = await failure(llm.complete({ ...request, signal: controller.signal }));
    expect(error.message).toMatch(/^LLM call aborted/);
    expect(delays).toHaveLength(1);
    expect(server.completionRequests()).toHaveLength(1);
  });

  it("makes no request for an already aborted signal", async () => {
    const { llm } = client();
    const error = await failure(llm.complete({ ...request, signal: AbortSignal.abort() }));
    expect(error.attempts).toBe(0);
    expect(server.requests).toHaveLength(0);
  });

  it("without a key is unconfigured and makes no request", async () => {
    for (const apiKey of [undefined, ""]) {
      const { llm } = client({ apiKey });
      expect(llm.configured).toBe(false);
      await expect(llm.complete(request)).rejects.toBeInstanceOf(LlmNotConfiguredError);
    }
    expect(server.requests).toHaveLength(0);
  });

  it("counts tokens, cost, requests and durations", async () => {
    server.enqueue({ kind: "500" });
    const { llm, metrics } = client({ prices: { [MODEL]: 0.9 } });
    const first = await llm.complete(request);
    const second = await llm.complete(request);
    const input = first.usage.inputTokens + second.usage.inputTokens;
    const output = first.usage.outputTokens + second.usage.outputTokens;
    expect(await counter(metrics, "llmTokens", { model: MODEL, kind: "input" })).toBe(input);
    expect(await counter(metrics, "llmTokens", { model: MODEL, kind: "output" })).toBe(output);
    expect(await counter(metrics, "llmCostUsd", { model: MODEL })).toBeCloseTo(
      ((input + output) / 1e6) * 0.9,
      12,
    );
    expect(await counter(metrics, "llmRequests", { model: MODEL, outcome: "ok" })).toBe(2);
    expect(await counter(metrics, "llmRequests", { model: MODEL, outcome: "retry" })).toBe(1);
    // One observation per HTTP attempt.
    const text = await metrics.registry.getSingleMetricAsString(
      "bazaar_runner_llm_request_duration_seconds",
    );
    expect(text).toContain(`bazaar_runner_llm_request_duration_seconds_count{model="${MODEL}"} 3`);
  });

  it("records no cost for a model without a price", async () => {
    const { llm, metrics } = client({ prices: { "other-model": 1 } });
    await llm.complete(request);
    expect(await counter(metrics, "llmCostUsd", { model: MODEL })).toBe(0);
    expect(await counter(metrics, "llmTokens", { model: MODEL, kind: "input" })).toBeGreaterThan(0);
  });
});

describe("the API key stays secret", () => {
  const key = "fw-secret-key-9d8c7b6a5f4e3d2c";
  let keyed: TestLlmServer;

  beforeAll(async () => {
    keyed = await startTestLlmServer({ apiKey: key });
  });
  afterAll(async () => {
    await keyed.close();
  });

  it("never appears in error messages, error causes or log lines", async () => {
    const lines: string[] = [];
    const destination = new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(chunk.toString());
        done();
      },
    });
    // A bare pino logger: no redaction or scrubbing of its own, so only the client protects the key.
    const logger = pino({ level: "debug" }, destination);
    const { sleep } = fakeSleep();
    const llm = createLlmClient({
      apiKey: key,
      baseUrl: keyed.url,
      dispatcher: pool,
      sleep,
      logger,
      maxAttempts: 2,
    });
    const errors: LlmError[] = [];

    // A server that echoes the key back in its error messages, retryable and not.
    keyed.enqueue(
      { kind: "status", status: 503, message: `Overloaded for key ${key}` },
      { kind: "status", status: 401, message: `Incorrect API key provided: ${key}` },
    );
    errors.push(await failure(llm.complete(request)));
    keyed.setDefaultFault({ kind: "status", status: 500, message: `upstream said Bearer ${key}` });
    errors.push(await failure(llm.complete(request)));
    keyed.setDefaultFault({ kind: "hang" });
    const short = createLlmClient({
      apiKey: key,
      baseUrl: keyed.url,
      dispatcher: pool,
      sleep,
      logger,
      timeoutMs: 100,
      maxAttempts: 1,
    });
    errors.push(await failure(short.complete(request)));
    keyed.setDefaultFault(undefined);
    await llm.complete(request);

    // The key did travel to the server, so the checks below are meaningful.
    expect(keyed.completionRequests()[0]?.headers.authorization).toBe(`Bearer ${key}`);
    expect(errors[0]?.message).toBe("LLM answered 401: Incorrect API key provided: [REDACTED]");
    expect(lines.length).toBeGreaterThan(3);
    for (const error of errors) {
      expect(error.message).not.toContain(key);
      expect(inspect(error, { depth: 10 })).not.toContain(key);
    }
    for (const line of lines) expect(line).not.toContain(key);
  });
});
