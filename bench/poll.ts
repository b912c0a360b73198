/**
 * Cost of one poll as the number of agents grows. The job feed is shared: one listing
 * per status per poll serves every agent, so marketplace requests per poll should not
 * grow with the number of agents; the CPU work of deciding (gates, ledger, keyword
 * evaluation) does, once per new job per agent.
 *
 *   npm run bench:poll -- [--agents 3,30,150] [--jobs 300] [--seconds 5]
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import type { Counter, Histogram } from "prom-client";
import { builtinAgentConfigs } from "../src/agents/builtin.ts";
import { loadConfig } from "../src/config/env.ts";
import { createLogger, silentLogger } from "../src/logger.ts";
import { startMarketplace } from "../src/marketplace-server/index.ts";
import { createMetrics } from "../src/metrics.ts";
import { Runner } from "../src/runner/runner.ts";

const { values } = parseArgs({
  options: {
    agents: { type: "string", default: "3,30,150" },
    jobs: { type: "string", default: "300" },
    seconds: { type: "string", default: "5" },
  },
});
const JOBS = Number(values.jobs);
const SECONDS = Number(values.seconds);

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function counterTotal(counter: Counter<string>): Promise<number> {
  return (await counter.get()).values.reduce((sum, v) => sum + v.value, 0);
}
async function histogram(h: Histogram): Promise<{ count: number; sum: number }> {
  const values = (await h.get()).values;
  return {
    count: values.find((v) => v.metricName?.endsWith("_count"))?.value ?? 0,
    sum: values.find((v) => v.metricName?.endsWith("_sum"))?.value ?? 0,
  };
}

async function measure(agentCount: number): Promise<Record<string, number>> {
  const dir = await mkdtemp(join(tmpdir(), "bench-poll-"));
  const marketplace = await startMarketplace({ host: "127.0.0.1", port: 0, dbPath: ":memory:" });
  // A third of the jobs are code reviews every CodeReviewer bids on once; the rest
  // need a capability nobody has, so they cost only the feed and the gates.
  for (let i = 0; i < JOBS; i++) {
    const review = i % 3 === 0;
    await fetch(`${marketplace.url}/api/jobs`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        title: review ? `Code review #${i}` : `Translate manual #${i}`,
        description: review
          ? "Security code review of a Go service: SQL injection, race conditions."
          : "Translate the user manual to French.",
        required_capabilities: review ? ["code_review"] : ["translation"],
        budget_usd: 1,
        poster_id: "bench",
        poster_wallet: "0x2222222222222222222222222222222222222222",
      }),
    });
  }
  const defaults = builtinAgentConfigs();
  const agents = Array.from({ length: agentCount }, (_, i) => ({
    ...defaults[i % defaults.length]!,
    name: `Agent-${i}`,
  }));
  const file = join(dir, "agents.json");
  await writeFile(file, JSON.stringify(agents));
  const metrics = createMetrics({ processMetrics: false });
  const config = loadConfig({
    BAZAAR_API_URL: marketplace.url,
    AGENTS_FILE: file,
    AGENT_POLL_INTERVAL: "0.25",
    AGENT_HEARTBEAT_INTERVAL: "60",
    RUNNER_STATE_DIR: join(dir, "state"),
  });
  const runner = await Runner.start({
    config,
    logger: process.env.BENCH_DEBUG
      ? createLogger({ level: "debug", pretty: false })
      : silentLogger(),
    metrics,
  });
  while (runner.workers.filter((w) => w.state === "running").length < agentCount) await sleep(50);

  // First polls: every agent decides on every job once (bids included). The metrics
  // are fresh, so the totals since start are the totals of this phase.
  while ((await counterTotal(metrics.bids)) < agentCount * JOBS) await sleep(50);
  const firstEnd = await histogram(metrics.pollDuration);

  // Steady state: nothing new to decide.
  const r0 = await counterTotal(metrics.marketplaceRequests);
  const p0 = await histogram(metrics.pollDuration);
  await sleep(SECONDS * 1000);
  const r1 = await counterTotal(metrics.marketplaceRequests);
  const p1 = await histogram(metrics.pollDuration);

  await runner.stop();
  await marketplace.close();
  await rm(dir, { recursive: true, force: true });
  const polls = p1.count - p0.count;
  return {
    agents: agentCount,
    jobs: JOBS,
    decideAllMs: Math.round(firstEnd.sum * 1000),
    decidePolls: firstEnd.count,
    steadyPolls: polls,
    requestsPerPoll: Number(((r1 - r0) / Math.max(1, polls)).toFixed(2)),
    steadyPollMs: Number((((p1.sum - p0.sum) / Math.max(1, polls)) * 1000).toFixed(1)),
  };
}

const rows: Array<Record<string, number>> = [];
for (const n of values.agents.split(",").map(Number)) rows.push(await measure(n));
console.table(rows);
process.exit(0);
