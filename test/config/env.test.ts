import { hostname } from "node:os";
import { describe, expect, it } from "vitest";
import { ConfigError, DEFAULT_MODEL, loadConfig } from "../../src/config/env.ts";

describe("loadConfig", () => {
  it("applies the seed's defaults", () => {
    const c = loadConfig({});
    expect(c.bazaarApiUrl).toBe("http://localhost:8000");
    expect(c.bazaarApiUrlExplicit).toBe(false);
    expect(c.ownerId).toBe("multi_runner");
    expect(c.pollIntervalMs).toBe(30_000);
    expect(c.heartbeatIntervalMs).toBe(60_000);
    expect(c.reloadIntervalMs).toBe(300_000);
    expect(c.shutdownGraceMs).toBe(30_000);
    expect(c.llmBaseUrl).toBe("https://api.fireworks.ai/inference/v1");
    expect(c.defaultModel).toBe(DEFAULT_MODEL);
    expect(c.llmTimeoutMs).toBe(120_000);
    expect(c.stateDir).toBe("./.bazaar-runner");
    expect(c.port).toBe(8080);
    // The dashboard is on this machine only unless HOST says otherwise.
    expect(c.host).toBe("127.0.0.1");
    expect(c.marketplacePort).toBe(8000);
    expect(c.runnerUrl).toBe("http://localhost:8080");
    expect(c.logLevel).toBe("info");
    expect(c.fireworksApiKey).toBeUndefined();
    expect(c.mongodbUri).toBeUndefined();
    expect(c.plugins).toEqual([]);
    expect(c.leaseTtlMs).toBe(30_000);
    expect(c.replicaId).toBe(`${hostname()}:${process.pid}`);
  });

  it("takes the replica id and lease TTL from the environment", () => {
    const c = loadConfig({ RUNNER_REPLICA_ID: "runner-a", LEASE_TTL: "2" });
    expect(c.replicaId).toBe("runner-a");
    expect(c.leaseTtlMs).toBe(2000);
  });

  it("reads every variable", () => {
    const c = loadConfig({
      BAZAAR_API_URL: "https://bazaar.example.com/",
      FIREWORKS_API_KEY: "fw_test",
      LLM_BASE_URL: "http://127.0.0.1:11434/v1",
      MONGODB_URI: "mongodb://u:p@db:27017/",
      AGENTS_FILE: "agents.yaml",
      AGENT_OWNER_ID: "me",
      AGENT_POLL_INTERVAL: "0.5",
      AGENT_HEARTBEAT_INTERVAL: "10",
      AGENT_RELOAD_INTERVAL: "60",
      AGENT_PLUGINS: "./a.ts, ./b.ts",
      RUNNER_STATE_DIR: "/data",
      PORT: "9090",
      LOG_LEVEL: "debug",
      LLM_PRICES: '{"m": 0.9}',
    });
    expect(c.bazaarApiUrl).toBe("https://bazaar.example.com");
    expect(c.bazaarApiUrlExplicit).toBe(true);
    expect(c.pollIntervalMs).toBe(500);
    expect(c.plugins).toEqual(["./a.ts", "./b.ts"]);
    expect(c.port).toBe(9090);
    expect(c.llmPrices).toEqual({ m: 0.9, [DEFAULT_MODEL]: 0.9 });
    expect(c.llmBaseUrl).toBe("http://127.0.0.1:11434/v1");
  });

  it("derives the CLI's default URLs from the ports", () => {
    const c = loadConfig({ MARKETPLACE_PORT: "18000", PORT: "18080" });
    expect(c.bazaarApiUrl).toBe("http://localhost:18000");
    expect(c.bazaarApiUrlExplicit).toBe(false);
    expect(c.runnerUrl).toBe("http://localhost:18080");
    const explicit = loadConfig({
      MARKETPLACE_PORT: "18000",
      BAZAAR_API_URL: "http://m.example/",
      RUNNER_URL: "http://r.example:9/",
    });
    expect(explicit.bazaarApiUrl).toBe("http://m.example");
    expect(explicit.runnerUrl).toBe("http://r.example:9");
    expect(() => loadConfig({ RUNNER_URL: "nope" })).toThrow(/^RUNNER_URL: must be an http/);
    expect(() => loadConfig({ MARKETPLACE_PORT: "70000" })).toThrow(/^MARKETPLACE_PORT: /);
  });

  it("treats empty values as unset", () => {
    expect(loadConfig({ BAZAAR_API_URL: "", AGENT_POLL_INTERVAL: " " }).pollIntervalMs).toBe(
      30_000,
    );
  });

  it.each([
    ["AGENT_POLL_INTERVAL", "soon", /^AGENT_POLL_INTERVAL: must be a number of seconds/],
    ["AGENT_POLL_INTERVAL", "-1", /^AGENT_POLL_INTERVAL: must be a positive number/],
    ["BAZAAR_API_URL", "not a url", /^BAZAAR_API_URL: must be an http\(s\) URL/],
    ["BAZAAR_API_URL", "ftp://x", /^BAZAAR_API_URL: must be an http\(s\) URL/],
    ["PORT", "70000", /^PORT: must be a port number/],
    ["LOG_LEVEL", "loud", /^LOG_LEVEL: /],
    ["MONGODB_URI", "postgres://x", /^MONGODB_URI: must start with mongodb/],
    ["LLM_PRICES", "{nope", /^LLM_PRICES: must be JSON/],
    ["LEASE_TTL", "0", /^LEASE_TTL: must be a positive number/],
    ["RUNNER_REPLICA_ID", "a b", /^RUNNER_REPLICA_ID: must be 1 to 100/],
  ])("a bad %s (%s) stops start-up with one line naming it", (name, value, message) => {
    let error: unknown;
    try {
      loadConfig({ [name]: value });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toMatch(message);
    expect((error as Error).message).not.toContain("\n");
  });
});
