/**
 * Soak of three runner replicas sharing agents through MongoDB (the wire server, or
 * MONGODB_TEST_URI), against the embedded marketplace (auto-awarding) and the test LLM
 * server, both injecting random faults, while a poster posts jobs; every `--kill-every`
 * seconds one replica, chosen at random, is killed with -9 and a new one (new id) joins.
 * Ends with a drain and a tally from the marketplace's own records; exits 1 on any
 * duplicate bid, duplicate or lost result.
 *
 *   npm run bench:replicas-soak -- [--seconds 3600] [--kill-every 300] [--agents 30] [--ttl 10] [--poll 2] [--fault-rate 0.05] [--post-every-ms 2000]
 */
import { parseArgs } from "node:util";
import { ReplicaCluster } from "../test/support/replica-cluster.ts";
import { LLM_FAULTS, marketFaults, pick, sleep, TEMPLATES } from "./soak-common.ts";

const { values } = parseArgs({
  options: {
    seconds: { type: "string", default: "3600" },
    "kill-every": { type: "string", default: "300" },
    agents: { type: "string", default: "30" },
    ttl: { type: "string", default: "10" },
    poll: { type: "string", default: "2" },
    "fault-rate": { type: "string", default: "0.05" },
    "post-every-ms": { type: "string", default: "2000" },
    "drain-seconds": { type: "string", default: "120" },
  },
});
const seconds = Number(values.seconds);
const killEvery = Number(values["kill-every"]);
const faultRate = Number(values["fault-rate"]);
const postEveryMs = Number(values["post-every-ms"]);

function countBy(values: string[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const value of values) counts[value] = (counts[value] ?? 0) + 1;
  return counts;
}

async function main(): Promise<number> {
  const cluster = await ReplicaCluster.start({
    agents: Number(values.agents),
    ttlSeconds: Number(values.ttl),
    pollSeconds: Number(values.poll),
    heartbeatSeconds: 5,
    autoAwardSeconds: 2,
  });
  let generation = 0;
  const live: string[] = [];
  const join = () => {
    const id = `soak-${++generation}`;
    cluster.launch(id);
    live.push(id);
  };
  for (let i = 0; i < 3; i++) join();
  await cluster.balanced([...live], 120_000);

  cluster.marketplace.setFaults({ rules: marketFaults(faultRate) });
  const started = Date.now();
  const end = started + seconds * 1000;
  let nextKill = killEvery > 0 ? started + killEvery * 1000 : Number.POSITIVE_INFINITY;
  let nextPost = started;
  let nextLlmFault = started;
  let kills = 0;
  process.stdout.write(
    `replicas soak: ${seconds} s, ${cluster.agents.length} agents, 3 replicas, kill -9 every ${killEvery || "never"} s, fault rate ${faultRate}\n`,
  );
  while (Date.now() < end) {
    const now = Date.now();
    if (now >= nextPost) {
      nextPost = now + postEveryMs;
      await cluster
        .postJob({ ...pick(TEMPLATES), budget_usd: 0.5 + Math.random() })
        .catch(() => undefined);
    }
    if (now >= nextLlmFault) {
      nextLlmFault = now + 1000;
      if (Math.random() < faultRate * 10) cluster.llm.enqueue(pick(LLM_FAULTS));
    }
    if (now >= nextKill) {
      nextKill = now + killEvery * 1000;
      const victim = live.splice(Math.floor(Math.random() * live.length), 1)[0]!;
      await cluster.replicas.get(victim)!.kill9();
      kills++;
      process.stdout.write(`${((now - started) / 1000).toFixed(0)} s: kill -9 ${victim}\n`);
      join();
    }
    await sleep(200);
  }

  const soaked = Date.now() - started;
  // Drain: no more faults or posts; every awarded job must get its result.
  cluster.marketplace.setFaults(null);
  cluster.llm.setDefaultFault(undefined);
  const drainEnd = Date.now() + Number(values["drain-seconds"]) * 1000;
  let audit = await cluster.audit();
  while (Date.now() < drainEnd && audit.lostResults.length > 0) {
    await sleep(2000);
    audit = await cluster.audit();
  }
  const executions = cluster.logged("execution started").map((l) => String(l.jobId));
  const report = {
    secondsRun: Math.round(soaked / 1000),
    drainSeconds: Math.round((Date.now() - started - soaked) / 1000),
    secondsPlanned: seconds,
    replicas: 3,
    agents: cluster.agents.length,
    kills,
    jobsPosted: audit.jobs,
    bids: audit.bids,
    duplicateBids: audit.duplicateBids,
    jobsAwarded: audit.awarded,
    results: audit.results,
    duplicateResults: audit.duplicateResults,
    lostResults: audit.lostResults.length,
    reExecutions: executions.length - new Set(executions).size,
    leasesLost: cluster.logged("agent lease lost").length,
    leasesLostByReason: countBy(cluster.logged("agent lease lost").map((l) => String(l.reason))),
    llmRequests: cluster.llm.completionRequests().length,
  };
  process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  await cluster.close();
  return audit.duplicateBids === 0 && audit.duplicateResults === 0 && audit.lostResults.length === 0
    ? 0
    : 1;
}

process.exit(await main());
