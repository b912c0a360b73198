import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { startMarketplace } from "../src/marketplace-server/index.ts";
import {
  errorMessage,
  redactUri,
  registerSecret,
  registerUriSecrets,
  scrub,
} from "../src/secrets.ts";
import { startTestLlmServer, type TestLlmServer } from "./support/llm-server.ts";
import {
  award,
  getJob,
  runningAgents,
  waitForBid,
  waitForResult,
} from "./support/market-helpers.ts";
import { type MongoWireServer, startMongoWireServer } from "./support/mongo-wire/index.ts";
import { type Harness, postJob, startHarness } from "./support/runner-harness.ts";
import { RunnerProcess } from "./support/runner-process.ts";
import { SECRET_TEST_LLM_KEY, SECRET_TEST_MONGO_PASSWORD } from "./support/test-secrets.ts";
import { waitFor } from "./support/wait.ts";

/**
 * Secrets never get printed: the LLM key and a MongoDB password are provoked into
 * error paths (a server that echoes the key, an LLM answer that contains it, a URI
 * with a password that fails to connect), and everything the runner printed, served
 * or submitted is searched for them. The suite-wide guard (test/support/global-setup.ts)
 * searches the output of every other suite too.
 */

const KEY = SECRET_TEST_LLM_KEY;
const PASSWORD = SECRET_TEST_MONGO_PASSWORD;

const SCHEMA_JOB = {
  title: "Design an OpenAPI schema for a REST API",
  description: "A PostgreSQL database schema and an OpenAPI 3 spec for a bookings REST API.",
  budget_usd: 1,
  required_capabilities: ["schema_design"],
};

function expectClean(what: string, text: string): void {
  expect(text.length, `${what} is empty`).toBeGreaterThan(0);
  expect(text.includes(KEY), `${what} contains the LLM key`).toBe(false);
  expect(text.includes(PASSWORD), `${what} contains the MongoDB password`).toBe(false);
}

describe("secrets, in process", () => {
  let h: Harness | undefined;
  let wire: MongoWireServer | undefined;
  afterEach(async () => {
    await h?.close();
    await wire?.close();
    h = undefined;
    wire = undefined;
  });

  it("an LLM that echoes the key in errors and answers: nothing printed, served or submitted carries it", async () => {
    h = await startHarness({ llmApiKey: KEY });
    expect(h.config.fireworksApiKey).toBe(KEY);
    const runner = await h.startRunner();
    const ids = await runningAgents(runner, 3);
    const url = h.marketplace.url;

    // 1: the service refuses with the key in its error message.
    const refused = await postJob(url, SCHEMA_JOB);
    const bid1 = await waitForBid(url, refused, ids.SchemaArchitect);
    h.llm.enqueue({ kind: "status", status: 401, message: `Incorrect API key provided: ${KEY}` });
    await award(url, refused, bid1.bid_id);
    // The service cannot record a failure (its submit-result answers 500 to
    // success:false): the report is tried three times, then given up; the job stays
    // assigned. What the report said is in the ledger.
    const failed = await waitFor("the failure report given up", async () => {
      const entry = await runner.ledger.get(ids.SchemaArchitect!, refused);
      return entry?.closedAt ? entry : undefined;
    });
    expect(failed.result?.success).toBe(false);
    expect(failed.result?.output).toMatch(/401/);
    expect(failed.result?.output).toContain("[REDACTED]");
    expect((await getJob(url, refused)).status).toBe("assigned");

    // 2: a 500 echoing the key, retried, then an answer that contains the key itself.
    const echoed = await postJob(url, { ...SCHEMA_JOB, title: "Design a database schema" });
    const bid2 = await waitForBid(url, echoed, ids.SchemaArchitect);
    h.llm.enqueue({ kind: "status", status: 500, message: `upstream said ${KEY}` });
    h.llm.setResponder(() => `Here is the schema. (debug: key=${KEY})`);
    await award(url, echoed, bid2.bid_id);
    const answered = await waitForResult(url, echoed);
    expect(answered.status).toBe("completed");
    expect(answered.result?.output).toMatch(/Here is the schema/);
    await waitFor(
      "both results accepted",
      async () =>
        (await runner.ledger.get(ids.SchemaArchitect!, echoed))?.acceptedAt &&
        (await runner.ledger.get(ids.SchemaArchitect!, refused))?.closedAt,
    );

    // The key did travel where it belongs: the Authorization header.
    expect(h.llm.requests.some((r) => r.headers.authorization === `Bearer ${KEY}`)).toBe(true);
    // And nowhere else.
    expectClean("the logs", h.logs.text());
    expectClean("/api/status", JSON.stringify(await runner.snapshot()));
    expectClean("the event timeline", JSON.stringify(runner.recentEvents()));
    expectClean("/metrics", await runner.metrics.registry.metrics());
    expectClean(
      "the submitted results",
      JSON.stringify([await getJob(url, refused), await getJob(url, echoed)]),
    );
    expectClean(
      "the ledger",
      JSON.stringify([
        await runner.ledger.get(ids.SchemaArchitect!, refused),
        await runner.ledger.get(ids.SchemaArchitect!, echoed),
      ]),
    );
  });

  it("a MongoDB URI whose password fails to authenticate: the error and the logs hide it", async () => {
    wire = await startMongoWireServer();
    h = await startHarness();
    // The wire server has no authentication: a URI with credentials fails the handshake.
    const uri = `mongodb://runner:${PASSWORD}@127.0.0.1:${wire.port}/bazaar?directConnection=true&serverSelectionTimeoutMS=1500&connectTimeoutMS=1000`;
    let failure: unknown;
    try {
      const runner = await h.startRunner({ mongodbUri: uri });
      await runner.stop();
    } catch (error) {
      failure = error;
    }
    expect(failure).toBeInstanceOf(Error);
    const error = failure as Error;
    expectClean("the error message", error.message);
    expectClean("the error as printed", errorMessage(error));
    expectClean("the error's stack", String(error.stack));
    expectClean("the error's cause", String((error as { cause?: unknown }).cause ?? "none"));
    expect(error.message).toMatch(/\[REDACTED\]/);
    expectClean("the logs", h.logs.text());
  });

  it("scrub and redactUri hide registered secrets, URI passwords and bearer tokens", () => {
    registerUriSecrets(`mongodb://u:${PASSWORD}@db.example:27017/x`);
    expect(scrub(`failed with ${PASSWORD} inside`)).toBe("failed with [REDACTED] inside");
    expect(redactUri("mongodb+srv://me:hunter22@cluster.example/db")).toBe(
      "mongodb+srv://me:[REDACTED]@cluster.example/db",
    );
    expect(scrub("Authorization: Bearer abcdefgh12345678")).toBe(
      "Authorization: Bearer [REDACTED]",
    );
  });

  it("scrub hides every one of thousands of secrets (a key per agent) in one pass", () => {
    const keys = Array.from({ length: 2000 }, (_, i) => (i * 7919).toString(16).padStart(64, "ab"));
    for (const key of keys) {
      registerSecret(`0x${key}`);
      registerSecret(key);
    }
    const [first, second, last] = [keys[0], keys[999], keys[1999]];
    const text = `key 0x${first} then ${second}${second}, and at the end ${last}`;
    expect(scrub(text)).toBe("key [REDACTED] then [REDACTED][REDACTED], and at the end [REDACTED]");
    // What holds no secret comes back as it was; the fixed rules still apply.
    expect(scrub("nothing to hide in 0xabab")).toBe("nothing to hide in 0xabab");
    expect(scrub(`mongodb://u:${PASSWORD}@db/x Bearer abcdefgh12345678`)).toBe(
      "mongodb://u:[REDACTED]@db/x Bearer [REDACTED]",
    );
  });
});

describe("secrets, in the CLI as a child process", () => {
  let dir: string;
  let marketplace: Awaited<ReturnType<typeof startMarketplace>> | undefined;
  let llm: TestLlmServer | undefined;
  let wire: MongoWireServer | undefined;
  const children: RunnerProcess[] = [];
  afterEach(async () => {
    for (const child of children.splice(0)) if (child.child.exitCode === null) await child.kill9();
    await marketplace?.close();
    await llm?.close();
    await wire?.close();
    marketplace = undefined;
    llm = undefined;
    wire = undefined;
    await rm(dir, { recursive: true, force: true });
  });

  it("`start` with a key the LLM echoes: stdout, stderr, /api/status and /metrics hide it", async () => {
    dir = await mkdtemp(join(tmpdir(), "secrets-"));
    marketplace = await startMarketplace({
      host: "127.0.0.1",
      port: 0,
      dbPath: join(dir, "market.sqlite"),
    });
    llm = await startTestLlmServer({ apiKey: KEY });
    const child = new RunnerProcess({
      BAZAAR_API_URL: marketplace.url,
      LLM_BASE_URL: llm.url,
      FIREWORKS_API_KEY: KEY,
      AGENT_POLL_INTERVAL: "0.2",
      AGENT_HEARTBEAT_INTERVAL: "0.5",
      RUNNER_STATE_DIR: join(dir, "state"),
      PORT: "0",
      HOST: "127.0.0.1",
    });
    children.push(child);
    const listening = await child.waitForLog(
      "the HTTP surface",
      (l) => l.msg === "health, metrics and dashboard listening",
    );
    const jobId = await postJob(marketplace.url, SCHEMA_JOB);
    const bid = await waitForBid(marketplace.url, jobId);
    llm.setDefaultFault({ kind: "status", status: 401, message: `bad key ${KEY}` });
    await award(marketplace.url, jobId, bid.bid_id);
    // The service cannot record a failure (500 to success:false): tried, then given up.
    await child.waitForLog(
      "the failure report given up",
      (l) => l.msg === "failure report not recorded; given up",
      60_000,
    );
    const done = await getJob(marketplace.url, jobId);
    expect(done.status).toBe("assigned");

    const base = String(listening.url);
    const status = await fetch(`${base}/api/status`).then((r) => r.text());
    const metrics = await fetch(`${base}/metrics`).then((r) => r.text());
    expect(status).toMatch(/LLM answered 401/);
    expectClean("/api/status", status);
    expectClean("/metrics", metrics);
    expectClean("the submitted result", JSON.stringify(done));
    await child.terminate();
    expectClean("stdout and stderr", child.raw.join("\n"));
  });

  it("`start` with a MongoDB URI that fails: the one error line hides the password", async () => {
    dir = await mkdtemp(join(tmpdir(), "secrets-"));
    wire = await startMongoWireServer();
    const child = new RunnerProcess({
      BAZAAR_API_URL: "http://127.0.0.1:9",
      MONGODB_URI: `mongodb://runner:${PASSWORD}@127.0.0.1:${wire.port}/bazaar?directConnection=true&serverSelectionTimeoutMS=1500`,
      FIREWORKS_API_KEY: KEY,
      RUNNER_STATE_DIR: join(dir, "state"),
      PORT: "0",
      HOST: "127.0.0.1",
    });
    children.push(child);
    const exit = await child.exit;
    expect(exit.code).toBe(1);
    const printed = child.raw.join("\n");
    expect(printed).toMatch(/bazaar-runner: .*MongoDB/);
    expectClean("stdout and stderr", printed);
  });
});
