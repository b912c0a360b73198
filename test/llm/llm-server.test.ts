import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { startTestLlmServer, type TestLlmServer } from "../support/llm-server.ts";
import { waitFor } from "../support/wait.ts";

/** The test server spoken to raw, the way any OpenAI client would. */
let server: TestLlmServer;

beforeAll(async () => {
  server = await startTestLlmServer();
});
afterAll(async () => {
  await server.close();
});
afterEach(() => server.reset());

const body = {
  model: "test/model",
  messages: [
    { role: "system", content: "Be brief." },
    { role: "user", content: "Count the rows\nin this table" },
  ],
  temperature: 0.3,
  max_tokens: 64,
};

function post(path: string, payload: unknown, key = server.apiKey) {
  return fetch(`${path.startsWith("http") ? "" : server.url.replace(/\/v1$/, "")}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${key}` },
    body: JSON.stringify(payload),
  });
}

describe("test LLM server", () => {
  it("answers a chat completion in the OpenAI shape, on both paths", async () => {
    for (const path of ["/v1/chat/completions", "/chat/completions"]) {
      const response = await post(path, body);
      expect(response.status).toBe(200);
      const json = await response.json();
      expect(json).toMatchObject({
        object: "chat.completion",
        model: "test/model",
        choices: [
          {
            index: 0,
            message: { role: "assistant", content: "Answer from test/model: Count the rows" },
            finish_reason: "stop",
          },
        ],
      });
      expect(json.id).toMatch(/^chatcmpl-/);
      expect(json.usage.total_tokens).toBe(json.usage.prompt_tokens + json.usage.completion_tokens);
    }
    expect(server.completionRequests().map((r) => r.path)).toEqual([
      "/v1/chat/completions",
      "/chat/completions",
    ]);
    expect(server.requests[0]?.body?.max_tokens).toBe(64);
  });

  it("rejects a wrong key with a JSON 401", async () => {
    const response = await post("/v1/chat/completions", body, "nope");
    expect(response.status).toBe(401);
    expect(await response.json()).toMatchObject({ error: { message: "Invalid API key provided" } });
  });

  it("rejects a body that is not a chat request", async () => {
    const response = await post("/v1/chat/completions", { model: "m" });
    expect(response.status).toBe(400);
    expect(server.requests[0]?.body).toBeUndefined();
  });

  it("streams server-sent events ending in [DONE]", async () => {
    const response = await post("/v1/chat/completions", {
      ...body,
      stream: true,
      stream_options: { include_usage: true },
    });
    expect(response.headers.get("content-type")).toBe("text/event-stream");
    const events = (await response.text())
      .split("\n\n")
      .filter(Boolean)
      .map((e) => e.replace(/^data: /, ""));
    expect(events.at(-1)).toBe("[DONE]");
    const chunks = events.slice(0, -1).map((e) => JSON.parse(e));
    const text = chunks.map((c) => c.choices[0]?.delta?.content ?? "").join("");
    expect(text).toBe("Answer from test/model: Count the rows");
    expect(chunks.every((c) => c.object === "chat.completion.chunk")).toBe(true);
    expect(chunks.some((c) => c.choices[0]?.finish_reason === "stop")).toBe(true);
    expect(chunks.at(-1).usage.total_tokens).toBeGreaterThan(0);
  });

  it("applies queued faults in order, then the default", async () => {
    server.enqueue({ kind: "429", retryAfterSeconds: 3 }, { kind: "503-html" });
    server.setDefaultFault({ kind: "truncated-json" });
    const limited = await post("/v1/chat/completions", body);
    expect(limited.status).toBe(429);
    expect(limited.headers.get("retry-after")).toBe("3");
    const html = await post("/v1/chat/completions", body);
    expect(html.status).toBe(503);
    expect(await html.text()).toContain("<html>");
    const truncated = await post("/v1/chat/completions", body);
    expect(truncated.status).toBe(200);
    await expect(truncated.json()).rejects.toThrow();
    expect(server.requests.map((r) => r.fault)).toEqual(["429", "503-html", "truncated-json"]);
  });

  it("answers malformed JSON and empty completions on request", async () => {
    server.enqueue({ kind: "malformed-json" }, { kind: "empty-completion" });
    await expect((await post("/v1/chat/completions", body)).json()).rejects.toThrow();
    const empty = await (await post("/v1/chat/completions", body)).json();
    expect(empty.choices[0].message.content).toBe("");
  });

  it("holds completion requests unanswered until released, then answers them in order", async () => {
    server.hold();
    const settled: string[] = [];
    const first = post("/v1/chat/completions", body).then((r) => {
      settled.push("first");
      return r;
    });
    await waitFor("the first request held", () => server.heldCount() === 1);
    const second = post("/v1/chat/completions", body).then((r) => {
      settled.push("second");
      return r;
    });
    await waitFor("both requests held", () => server.heldCount() === 2);
    // A request that is not held is answered meanwhile: the hold is the only thing waiting.
    expect(
      (
        await fetch(`${server.url}/models`, {
          headers: { authorization: `Bearer ${server.apiKey}` },
        })
      ).status,
    ).toBe(200);
    expect(settled).toEqual([]);
    // Faults apply when a held request goes through, not when it came.
    server.enqueue({ kind: "500" });
    server.release();
    expect((await first).status).toBe(500);
    expect((await second).status).toBe(200);
    expect(server.heldCount()).toBe(0);
    // Released for good: the next request is answered at once.
    expect((await post("/v1/chat/completions", body)).status).toBe(200);
  });

  it("drops the connection on request", async () => {
    server.enqueue({ kind: "drop" });
    await expect(post("/v1/chat/completions", body)).rejects.toThrow();
  });

  it("accepts any key when built without one, and closes with a request hanging", async () => {
    const open = await startTestLlmServer({ apiKey: null, responder: () => "fixed" });
    const answered = await fetch(`${open.url}/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    });
    expect((await answered.json()).choices[0].message.content).toBe("fixed");
    open.setDefaultFault({ kind: "hang" });
    const hanging = fetch(`${open.url}/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    }).catch((error: unknown) => error);
    await waitFor("the hanging request to arrive", () => open.requests.length === 2);
    await open.close();
    expect(await hanging).toBeInstanceOf(Error);
  });
});
