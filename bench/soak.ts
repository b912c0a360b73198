/**
 * Soak test: the runner (a child process, killed with -9 now and then) against the
 * embedded marketplace and the test LLM server, both injecting random faults, while
 * a poster posts jobs and awards bids. Reports jobs, bids, results, duplicates and
 * lost results; exits 1 if any bid or result was duplicated or any result lost.
 *
 *   npm run bench:soak -- [--seconds 60] [--kill-every 20] [--fault-rate 0.05] [--post-every-ms 400]
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { startMarketplace } from "../src/marketplace-server/index.ts";
import { startTestLlmServer } from "../test/support/llm-server.ts";
import { api as rawApi } from "../test/support/raw-http.ts";
import { RunnerProcess } from "../test/support/runner-process.ts";
import { LLM_FAULTS, marketFaults, pick, sleep, TEMPLATES } from "./soak-common.ts";

const { values } = parseArgs({
  options: {
    seconds: { type: "string", default: "60" },
    "kill-every": { type: "string", default: "20" },
    "fault-rate": { type: "string", default: "0.05" },
    "post-every-ms": { type: "string", default: "400" },
    "drain-seconds": { type: "string", default: "90" },
  },
});
const seconds = Number(values.seconds);
const killEvery = Number(values["kill-every"]);
const faultRate = Number(values["fault-rate"]);
const postEveryMs = Number(values["post-every-ms"]);

const MARKET_FAULTS = marketFaults(faultRate);

async function main(): Promise<number> {
  const dir = await mkdtemp(join(tmpdir(), "soak-"));
  const marketplace = await startMarketplace({
    host: "127.0.0.1",
    port: 0,
    dbPath: join(dir, "market.sqlite"),
  });
  const llm = await startTestLlmServer();
  const env = {
    BAZAAR_API_URL: marketplace.url,
    LLM_BASE_URL: llm.url,
    FIREWORKS_API_KEY: llm.apiKey,
    AGENT_POLL_INTERVAL: "0.5",
    AGENT_HEARTBEAT_INTERVAL: "2",
    RUNNER_STATE_DIR: join(dir, "runner"),
    PORT: "0",
    HOST: "127.0.0.1",
    LLM_TIMEOUT: "10",
    SHUTDOWN_GRACE_PERIOD: "10",
    LOG_LEVEL: "info",
  };
  const runs: RunnerProcess[] = [new RunnerProcess(env)];
  const current = () => runs.at(-1)!;
  let kills = 0;
  const posted: string[] = [];
  const awarded = new Set<string>();

  const http = rawApi(marketplace.url);
  const api = async (method: string, path: string, body?: unknown) => {
    const response = await http.req(method, path, body);
    return { status: response.status, body: response.json as Record<string, unknown> | null };
  };

  marketplace.setFaults({ rules: MARKET_FAULTS });
  const started = Date.now();
  const end = started + seconds * 1000;
  let nextKill = killEvery > 0 ? started + killEvery * 1000 : Number.POSITIVE_INFINITY;
  let nextPost = started;
  let nextLlmFault = started;
  process.stdout.write(
    `soak: ${seconds} s, kill -9 every ${killEvery || "never"} s, fault rate ${faultRate}\n`,
  );

  while (Date.now() < end) {
    const now = Date.now();
    if (now >= nextPost) {
      nextPost = now + postEveryMs;
      const t = pick(TEMPLATES);
      const r = await api("POST", "/api/jobs", {
        ...t,
        budget_usd: 0.5 + Math.random(),
        poster_id: "soak",
        poster_wallet: "0x5050505050505050505050505050505050505050",
      });
      if (r.status === 200 && typeof r.body?.job_id === "string") posted.push(r.body.job_id);
    }
    if (now >= nextLlmFault) {
      nextLlmFault = now + 1000;
      if (Math.random() < faultRate * 10) llm.enqueue(pick(LLM_FAULTS));
    }
    if (now >= nextKill) {
      nextKill = now + killEvery * 1000;
      await current().kill9();
      kills++;
      runs.push(new RunnerProcess(env));
    }
    // Award jobs that have bids, best confidence per dollar, like `jobs award --best`.
    for (const jobId of posted.slice(-40)) {
      if (awarded.has(jobId)) continue;
      const job = await api("GET", `/api/jobs/${jobId}`);
      const bids =
        (job.body?.bids as
          | Array<{ bid_id: string; price_usd: number; estimated_quality: number }>
          | undefined) ?? [];
      if (job.body?.status !== "posted" || bids.length === 0) continue;
      const best = [...bids].sort(
        (a, b) => b.estimated_quality / b.price_usd - a.estimated_quality / a.price_usd,
      )[0]!;
      const r = await api("POST", `/api/jobs/${jobId}/select-bid/${best.bid_id}`);
      if (r.status === 200) awarded.add(jobId);
    }
    await sleep(200);
  }

  // Drain: no more faults or posts; every awarded job must get its result.
  marketplace.setFaults(null);
  llm.setDefaultFault(undefined);
  const drainEnd = Date.now() + Number(values["drain-seconds"]) * 1000;
  let unfinished: string[] = [];
  while (Date.now() < drainEnd) {
    unfinished = [];
    for (const jobId of awarded) {
      const job = await api("GET", `/api/jobs/${jobId}`);
      if (!["completed", "failed"].includes(String(job.body?.status))) unfinished.push(jobId);
    }
    if (unfinished.length === 0) break;
    await sleep(1000);
  }
  const exit = await current().terminate();

  // Tally from the marketplace's own records.
  let bids = 0;
  let duplicateBids = 0;
  let succeeded = 0;
  let failed = 0;
  for (const jobId of posted) {
    const job = await api("GET", `/api/jobs/${jobId}`);
    const list = (job.body?.bids as Array<{ agent_id: string }> | undefined) ?? [];
    bids += list.length;
    duplicateBids += list.length - new Set(list.map((b) => b.agent_id)).size;
    const result = job.body?.result as { success: boolean } | null | undefined;
    if (result) result.success ? succeeded++ : failed++;
  }
  const accepted = runs.flatMap((r) =>
    r.lines.filter((l) => l.msg === "result accepted").map((l) => String(l.jobId)),
  );
  const duplicateResults = accepted.length - new Set(accepted).size;
  const executions = runs.flatMap((r) =>
    r.lines.filter((l) => l.msg === "execution started").map((l) => String(l.jobId)),
  );
  const reExecutions = executions.length - new Set(executions).size;
  const report = {
    seconds,
    kills,
    jobsPosted: posted.length,
    bids,
    duplicateBids,
    jobsAwarded: awarded.size,
    resultsAccepted: succeeded + failed,
    resultsSucceeded: succeeded,
    resultsFailed: failed,
    duplicateResults,
    lostResults: unfinished.length,
    reExecutionsAfterKill: reExecutions,
    llmRequests: llm.completionRequests().length,
    lastRunnerExit: exit.code,
  };
  process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  await marketplace.close();
  await llm.close();
  await rm(dir, { recursive: true, force: true });
  return duplicateBids === 0 && duplicateResults === 0 && unfinished.length === 0 ? 0 : 1;
}

process.exit(await main());
