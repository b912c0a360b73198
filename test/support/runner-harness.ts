import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadConfig, type RunnerConfig } from "../../src/config/env.ts";
import { createLogger, type Logger } from "../../src/logger.ts";
import { startMarketplace } from "../../src/marketplace-server/index.ts";
import { createMetrics } from "../../src/metrics.ts";
import { Runner, type RunnerOptions } from "../../src/runner/runner.ts";
import { startTestLlmServer, type TestLlmServer } from "./llm-server.ts";
import { LogCapture } from "./log-capture.ts";
import { api as rawApi } from "./raw-http.ts";

export { LogCapture };

export interface Harness {
  marketplace: Awaited<ReturnType<typeof startMarketplace>>;
  llm: TestLlmServer;
  stateDir: string;
  config: RunnerConfig;
  logs: LogCapture;
  logger: Logger;
  startRunner(
    overrides?: Partial<RunnerConfig>,
    options?: Pick<RunnerOptions, "llm" | "metrics">,
  ): Promise<Runner>;
  close(): Promise<void>;
}

/**
 * The embedded marketplace and the test LLM server on loopback, and a runner
 * configured against both with short intervals.
 */
export async function startHarness(
  options: {
    env?: Record<string, string>;
    registrationCooldownSeconds?: number;
    autoAwardSeconds?: number;
    llmKey?: boolean;
    /** The key the test LLM server expects (and the runner is given); default DEFAULT_TEST_LLM_KEY. */
    llmApiKey?: string;
  } = {},
): Promise<Harness> {
  const stateDir = await mkdtemp(join(tmpdir(), "bazaar-runner-test-"));
  const marketplace = await startMarketplace({
    host: "127.0.0.1",
    port: 0,
    dbPath: join(stateDir, "marketplace.sqlite"),
    registrationCooldownSeconds: options.registrationCooldownSeconds ?? 0,
    autoAwardSeconds: options.autoAwardSeconds,
  });
  const llm = await startTestLlmServer(
    options.llmApiKey === undefined ? {} : { apiKey: options.llmApiKey },
  );
  const logs = new LogCapture();
  const logger = createLogger({ level: "debug", destination: logs, pretty: false });
  const env: Record<string, string> = {
    BAZAAR_API_URL: marketplace.url,
    LLM_BASE_URL: llm.url,
    AGENT_POLL_INTERVAL: "0.2",
    AGENT_HEARTBEAT_INTERVAL: "0.5",
    AGENT_RELOAD_INTERVAL: "1",
    SHUTDOWN_GRACE_PERIOD: "10",
    RUNNER_STATE_DIR: join(stateDir, "runner"),
    PORT: "0",
    HOST: "127.0.0.1",
    ...(options.llmKey === false ? {} : { FIREWORKS_API_KEY: llm.apiKey }),
    // The scenarios check bids against the fixed formula and count LLM calls per
    // execution; price learning and the quality gate have scenarios of their own
    // (price-learning.test.ts, quality-gate.test.ts), which turn them on.
    AGENT_PRICING: "fixed",
    QUALITY_GATE: "off",
    ...options.env,
  };
  const config = loadConfig(env);
  const runners: Runner[] = [];
  return {
    marketplace,
    llm,
    stateDir,
    config,
    logs,
    logger,
    async startRunner(overrides = {}, options = {}) {
      const runner = await Runner.start({
        config: { ...config, ...overrides },
        logger,
        metrics: options.metrics ?? createMetrics({ processMetrics: false }),
        llm: options.llm,
        outboxIntervalMs: 200,
      });
      runners.push(runner);
      return runner;
    },
    async close() {
      await Promise.allSettled(runners.map((r) => r.stop()));
      await marketplace.close();
      await llm.close();
      await rm(stateDir, { recursive: true, force: true });
    },
  };
}

/** Raw JSON requests to the marketplace, as a poster would make them. */
export async function api<T = Record<string, unknown>>(
  baseUrl: string,
  method: string,
  path: string,
  body?: unknown,
  headers?: Record<string, string>,
): Promise<{ status: number; body: T }> {
  const response = await rawApi(baseUrl).req(method, path, body, headers);
  // Plain-text error bodies stay strings.
  return { status: response.status, body: (response.json ?? response.text) as T };
}

export const POSTER_WALLET = "0x1111111111111111111111111111111111111111";

export async function postJob(
  baseUrl: string,
  job: {
    title: string;
    description: string;
    budget_usd: number;
    required_capabilities?: string[];
    deadline_minutes?: number;
  },
): Promise<string> {
  const { status, body } = await api<{ job_id: string }>(baseUrl, "POST", "/api/jobs", {
    required_capabilities: [],
    poster_id: "test_poster",
    poster_wallet: POSTER_WALLET,
    ...job,
  });
  if (status !== 200) throw new Error(`posting a job answered ${status}: ${JSON.stringify(body)}`);
  return body.job_id;
}
