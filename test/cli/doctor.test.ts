import { join } from "node:path";
import { MongoClient } from "mongodb";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type RunningMarketplace, startMarketplace } from "../../src/marketplace-server/index.ts";
import { startTestLlmServer, type TestLlmServer } from "../support/llm-server.ts";
import { type MongoWireServer, startMongoWireServer } from "../support/mongo-wire/index.ts";
import { SECRET_TEST_MNEMONIC } from "../support/test-secrets.ts";
import { closedPort, lines, NO_RUNNER_URL, runCli, tempDir } from "./cli.ts";

interface DoctorLine {
  level: "ok" | "warn" | "FAIL";
  check: string;
  message: string;
}

/** Doctor prints `LEVEL  check-name  message`, one line per check. */
function parse(stdout: string): DoctorLine[] {
  return lines(stdout).map((line) => {
    const match = /^(ok|warn|FAIL)\s+(\S+(?: streams)?)\s+(.*)$/.exec(line);
    if (!match) throw new Error(`not a doctor line: ${line}`);
    return {
      level: match[1] as DoctorLine["level"],
      check: match[2] ?? "",
      message: match[3] ?? "",
    };
  });
}

function check(result: DoctorLine[], name: string): DoctorLine {
  const found = result.find((r) => r.check === name);
  if (!found) throw new Error(`no "${name}" line in ${JSON.stringify(result)}`);
  return found;
}

describe("bazaar-runner doctor", () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let marketplace: RunningMarketplace;
  let llm: TestLlmServer;
  const cleanups: Array<() => Promise<void>> = [];

  beforeEach(async () => {
    dir = await tempDir("bazaar-doctor-test-");
    marketplace = await startMarketplace({
      host: "127.0.0.1",
      port: 0,
      dbPath: join(dir.path, "market.sqlite"),
    });
    llm = await startTestLlmServer();
  });
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
    await marketplace.close();
    await llm.close();
    await dir.cleanup();
  });

  /** A healthy environment, with `overrides` on top (an empty string unsets a variable). */
  const doctor = (overrides: Record<string, string> = {}) => {
    const env: Record<string, string> = {
      BAZAAR_API_URL: marketplace.url,
      FIREWORKS_API_KEY: llm.apiKey,
      LLM_BASE_URL: llm.url,
      RUNNER_STATE_DIR: join(dir.path, "state"),
      AGENT_WALLET_MNEMONIC: SECRET_TEST_MNEMONIC,
      ...overrides,
    };
    for (const [key, value] of Object.entries(env)) if (value === "") delete env[key];
    return runCli(["doctor"], { cwd: dir.path, env });
  };

  async function wireServer(options: { changeStreams: boolean }): Promise<MongoWireServer> {
    const server = await startMongoWireServer(options);
    cleanups.push(() => server.close());
    // One valid managed agent, so that the agents check has something to run.
    const client = new MongoClient(server.uri);
    try {
      await client
        .db("bazaar")
        .collection("agents")
        .insertOne({
          name: "MongoArchitect",
          agent_type: "schema_architect",
          managed: true,
          status: "available",
          capabilities: { schema_design: 0.9 },
          base_rate_usd: 0.04,
          model: "test-model",
        });
    } finally {
      await client.close();
    }
    return server;
  }

  it("a healthy setup: every line ok or warn, exit 0, one short completion asked", async () => {
    const run = await doctor();
    expect(run.code, run.stdout + run.stderr).toBe(0);
    expect(run.stderr).toBe("");
    const result = parse(run.stdout);
    expect(result.map((r) => r.check)).toEqual([
      "config",
      "runner",
      "marketplace",
      "mongodb",
      "agents",
      "wallets",
      "llm",
      "margin",
    ]);
    expect(result.every((r) => r.level === "ok")).toBe(true);
    expect(check(result, "marketplace").message).toContain(marketplace.url);
    // It says whose configuration it checked, and that no runner answered to compare with.
    expect(check(result, "config").message).toBe(
      "checked this shell's environment: valid (owner multi_runner, poll 30 s, heartbeat 60 s)",
    );
    expect(check(result, "runner").message).toBe(
      `no runner answers at ${NO_RUNNER_URL} (RUNNER_URL): nothing to compare with`,
    );
    expect(check(result, "margin").message).toBe(
      `no runner answers at ${NO_RUNNER_URL} (RUNNER_URL): no margins to check`,
    );
    expect(check(result, "agents").message).toBe("3 agent(s) from defaults");
    expect(check(result, "llm").message).toContain(llm.url);
    const asked = llm.completionRequests();
    expect(asked).toHaveLength(1);
    expect(asked[0]?.body?.max_tokens ?? asked[0]?.body?.max_completion_tokens).toBeGreaterThan(1);
  });

  it("reports the wallet configuration: the keys the runner holds, never the mnemonic", async () => {
    const held = await doctor();
    const line = check(parse(held.stdout), "wallets");
    expect(line.level).toBe("ok");
    expect(line.message).toMatch(
      /holds a key per agent .* for SchemaArchitect, AnomalyHunter, CodeReviewer/,
    );
    expect(held.stdout + held.stderr).not.toContain(SECRET_TEST_MNEMONIC);
  });

  it("reports the development mnemonic and payout-only wallets as warnings", async () => {
    const dev = check(parse((await doctor({ AGENT_WALLET_MNEMONIC: "" })).stdout), "wallets");
    expect(dev.level).toBe("warn");
    expect(dev.message).toMatch(/development mnemonic .*for local use only/);
    const payout = check(
      parse(
        (
          await doctor({
            AGENT_WALLET_MNEMONIC: "",
            AGENT_WALLET: "0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266",
          })
        ).stdout,
      ),
      "wallets",
    );
    expect(payout).toMatchObject({ level: "warn" });
    expect(payout.message).toContain(
      "payout-only: agents are paid at AGENT_WALLET 0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266",
    );
  });

  it("fails a bad mnemonic, and no wallet for a marketplace elsewhere", async () => {
    const bad = check(
      parse(
        (
          await doctor({
            AGENT_WALLET_MNEMONIC: "twelve words that are not a mnemonic at all here ok",
          })
        ).stdout,
      ),
      "wallets",
    );
    expect(bad).toMatchObject({ level: "FAIL" });
    const remote = await doctor({
      AGENT_WALLET_MNEMONIC: "",
      BAZAAR_API_URL: `http://0.0.0.0:${await closedPort()}`,
    });
    expect(remote.code).toBe(1);
    const refused = check(parse(remote.stdout), "wallets");
    expect(refused.level).toBe("FAIL");
    expect(refused.message).toMatch(/unrecoverable.*AGENT_WALLET_MNEMONIC.*AGENT_WALLET /);
  });

  it("an LLM that answers 200 with an empty text is reachable, not failed", async () => {
    llm.setDefaultFault({ kind: "empty-completion" });
    const run = await doctor();
    expect(run.code, run.stdout).toBe(0);
    const line = check(parse(run.stdout), "llm");
    expect(line.level).toBe("ok");
    expect(line.message).toContain("accepted the key");
  });

  it("without BAZAAR_API_URL and nothing on the default URL it only warns", async () => {
    // The default (localhost:8000) may be served by another test; any answer is fine.
    const run = await doctor({ BAZAAR_API_URL: "" });
    const line = check(parse(run.stdout), "marketplace");
    expect(line.level).not.toBe("FAIL");
  });

  it("BAZAAR_API_URL on a closed port: a FAIL line naming it, exit 1", async () => {
    const url = `http://127.0.0.1:${await closedPort()}`;
    const run = await doctor({ BAZAAR_API_URL: url });
    expect(run.code).toBe(1);
    const line = check(parse(run.stdout), "marketplace");
    expect(line.level).toBe("FAIL");
    expect(line.message).toContain(url);
    expect(line.message).toContain("check BAZAAR_API_URL");
    // The other checks still ran.
    expect(check(parse(run.stdout), "llm").level).toBe("ok");
  });

  it("an LLM key the server refuses (401): FAIL with what to fix, and never the key", async () => {
    const key = "sk-doctor-wrong-key-7c1e55";
    const run = await doctor({ FIREWORKS_API_KEY: key });
    expect(run.code).toBe(1);
    const line = check(parse(run.stdout), "llm");
    expect(line.level).toBe("FAIL");
    expect(line.message).toContain("401");
    expect(line.message).toContain("check FIREWORKS_API_KEY");
    expect(run.stdout + run.stderr).not.toContain(key);
    expect(llm.requests.at(-1)?.headers.authorization).toBe(`Bearer ${key}`);
  });

  it("an LLM_BASE_URL where nothing listens: FAIL naming the URL", async () => {
    const url = `http://127.0.0.1:${await closedPort()}/v1`;
    const run = await doctor({ LLM_BASE_URL: url });
    expect(run.code).toBe(1);
    const line = check(parse(run.stdout), "llm");
    expect(line.level).toBe("FAIL");
    expect(line.message).toContain(url);
    expect(line.message).toContain("LLM_BASE_URL");
  });

  it("without a key the LLM check warns (agents still bid) and exit stays 0", async () => {
    const run = await doctor({ FIREWORKS_API_KEY: "" });
    expect(run.code).toBe(0);
    const line = check(parse(run.stdout), "llm");
    expect(line.level).toBe("warn");
    expect(line.message).toContain("FIREWORKS_API_KEY is not set");
    expect(llm.requests).toHaveLength(0);
  });

  it("MongoDB with change streams: mongodb, change streams and agents ok", async () => {
    const mongo = await wireServer({ changeStreams: true });
    const run = await doctor({ MONGODB_URI: mongo.uri });
    expect(run.code, run.stdout + run.stderr).toBe(0);
    const result = parse(run.stdout);
    expect(check(result, "mongodb")).toMatchObject({ level: "ok" });
    expect(check(result, "mongodb").message).toContain("bazaar.agents has 1 managed agent(s)");
    expect(check(result, "change streams").level).toBe("ok");
    expect(check(result, "agents").message).toBe("1 agent(s) from mongo");
  });

  it("MongoDB without change streams: a warning that reloads are periodic, exit 0", async () => {
    const mongo = await wireServer({ changeStreams: false });
    const run = await doctor({ MONGODB_URI: mongo.uri, AGENT_RELOAD_INTERVAL: "120" });
    expect(run.code, run.stdout + run.stderr).toBe(0);
    const result = parse(run.stdout);
    expect(check(result, "mongodb").level).toBe("ok");
    const streams = check(result, "change streams");
    expect(streams.level).toBe("warn");
    expect(streams.message).toContain("unavailable");
    expect(streams.message).toContain("every 120 s");
    expect(streams.message).toContain("replica set");
  });

  it("MONGODB_URI on a closed port with a password: FAIL, the password never printed", async () => {
    const password = "hunter2-s3cret-pw";
    const uri = `mongodb://runner:${password}@127.0.0.1:${await closedPort()}/`;
    const run = await doctor({ MONGODB_URI: uri });
    expect(run.code).toBe(1);
    const result = parse(run.stdout);
    const line = check(result, "mongodb");
    expect(line.level).toBe("FAIL");
    expect(line.message).toContain("check MONGODB_URI");
    expect(line.message).toContain("[REDACTED]");
    expect(run.stdout + run.stderr).not.toContain(password);
    // The agents come from that MongoDB: not loaded a second time, said so.
    expect(check(result, "agents")).toMatchObject({ level: "warn" });
    expect(check(result, "agents").message).toContain("not checked");
  });

  it("a bad environment value: one FAIL line naming the variable, exit 1", async () => {
    const run = await doctor({ AGENT_HEARTBEAT_INTERVAL: "often" });
    expect(run.code).toBe(1);
    const result = parse(run.stdout);
    expect(result).toHaveLength(1);
    expect(result[0]).toMatchObject({ level: "FAIL", check: "config" });
    expect(result[0]?.message).toMatch(
      /^AGENT_HEARTBEAT_INTERVAL: .* \(in this shell's environment\) — fix the variable/,
    );
  });
});
