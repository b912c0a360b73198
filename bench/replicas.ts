/**
 * Replicas sharing agents through MongoDB (the wire server, or MONGODB_TEST_URI):
 *
 * 1. Failover: three replicas with 30 agents; kill -9 of one, and the time until every
 *    agent it held runs on the others (leased by a survivor and heartbeated since the
 *    kill), over several trials, beside the bound LEASE_TTL + one poll.
 * 2. Marketplace requests per minute of 1, 2 and 3 replicas running 300 agents, beside
 *    the same replicas without MongoDB (no leases: every replica runs every agent, the
 *    behaviour before leases), measured in the same run.
 *
 *   npm run bench:replicas -- [--trials 5] [--ttl 10] [--poll 5] [--agents 300] [--warmup 60] [--window 60] [--skip-failover] [--skip-load]
 */
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { parseTime } from "../src/contract/time.ts";
import { api } from "../test/support/raw-http.ts";
import { ReplicaCluster } from "../test/support/replica-cluster.ts";
import { RunnerProcess } from "../test/support/runner-process.ts";
import { waitFor } from "../test/support/wait.ts";

const { values } = parseArgs({
  options: {
    trials: { type: "string", default: "5" },
    ttl: { type: "string", default: "10" },
    poll: { type: "string", default: "5" },
    agents: { type: "string", default: "300" },
    window: { type: "string", default: "60" },
    warmup: { type: "string", default: "60" },
    "skip-failover": { type: "boolean", default: false },
    "skip-load": { type: "boolean", default: false },
  },
});
const trials = Number(values.trials);
const ttl = Number(values.ttl);
const poll = Number(values.poll);
const loadAgents = Number(values.agents);
const windowSeconds = Number(values.window);
/** Start-up heartbeats (every agent's first) fall before the window, not in it. */
const warmupSeconds = Number(values.warmup);

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
};
const seconds = (ms: number): string => (ms / 1000).toFixed(2);

async function failover(): Promise<string[]> {
  const cluster = await ReplicaCluster.start({
    agents: 30,
    ttlSeconds: ttl,
    pollSeconds: poll,
    heartbeatSeconds: Math.min(2, poll),
  });
  const lines: string[] = [];
  try {
    const ids = ["r-a", "r-b", "r-c"];
    for (const id of ids) cluster.launch(id);
    const times: number[] = [];
    for (let trial = 0; trial < trials; trial++) {
      const running = await cluster.balanced(ids, 120_000);
      const victim = ids[trial % ids.length]!;
      const names = new Set(running.get(victim) ?? []);
      const agents = cluster.agents.filter((a) => names.has(a.name));
      const killedAt = Date.now();
      await cluster.replicas.get(victim)!.kill9();
      const survivors = ids.filter((id) => id !== victim);
      await waitFor(
        "the victim's agents running elsewhere",
        async () => {
          const holders = await cluster.holders();
          if (!agents.every((a) => survivors.includes(holders.get(a.key) ?? ""))) return false;
          const listing = (await api(cluster.marketplace.url).req("GET", "/api/agents")).json as {
            agents: Array<{ agent_id: string; last_active: string | null }>;
          };
          const active = new Map(listing.agents.map((a) => [a.agent_id, a.last_active]));
          return agents.every((a) => {
            const last = active.get(a.agentId);
            return last != null && parseTime(last).getTime() > killedAt;
          });
        },
        { timeoutMs: (ttl + poll) * 1000 * 4, intervalMs: 50 },
      );
      const took = Date.now() - killedAt;
      times.push(took);
      process.stdout.write(
        `failover trial ${trial + 1}: ${victim} (${agents.length} agents) in ${seconds(took)} s\n`,
      );
      // The killed replica comes back (same id) for the next trial.
      cluster.launch(victim);
    }
    const bound = (ttl + poll) * 1000;
    lines.push(
      `| failover after kill -9, 3 replicas × 30 agents, LEASE_TTL ${ttl} s, poll ${poll} s | median ${seconds(median(times))} s, worst ${seconds(Math.max(...times))} s (${trials} trials: ${times.map(seconds).join(", ")}) | bound LEASE_TTL + one poll = ${seconds(bound)} s |`,
    );
  } finally {
    await cluster.close();
  }
  return lines;
}

/** Sum of bazaar_runner_marketplace_requests_total on one replica. */
async function requestsOf(url: string): Promise<number> {
  const text = await fetch(`${url}/metrics`).then((r) => r.text());
  let total = 0;
  for (const line of text.split("\n")) {
    if (line.startsWith("bazaar_runner_marketplace_requests_total{"))
      total += Number(line.slice(line.lastIndexOf(" ") + 1));
  }
  return total;
}

async function httpUrl(p: RunnerProcess): Promise<string> {
  const line = await p.waitForLog(
    "the HTTP surface",
    (l) => l.msg === "health, metrics and dashboard listening",
    120_000,
  );
  return String(line.url);
}

/** Requests per minute of `processes` over the window, after all their agents run. */
async function measure(processes: RunnerProcess[], expectRunning: number): Promise<number> {
  const urls = await Promise.all(processes.map(httpUrl));
  await waitFor(
    `${expectRunning} agents running`,
    async () => {
      let n = 0;
      for (const url of urls) {
        const status = (await api(url).req("GET", "/api/status")).json as {
          agents: Array<{ state: string }>;
        };
        n += status.agents.filter((a) => a.state === "running").length;
      }
      return n === expectRunning;
    },
    { timeoutMs: 300_000, intervalMs: 500 },
  );
  await new Promise((resolve) => setTimeout(resolve, warmupSeconds * 1000));
  const before = (await Promise.all(urls.map(requestsOf))).reduce((a, b) => a + b, 0);
  const started = Date.now();
  await new Promise((resolve) => setTimeout(resolve, windowSeconds * 1000));
  const after = (await Promise.all(urls.map(requestsOf))).reduce((a, b) => a + b, 0);
  return ((after - before) * 60_000) / (Date.now() - started);
}

async function load(): Promise<string[]> {
  const cluster = await ReplicaCluster.start({
    agents: loadAgents,
    ttlSeconds: 30,
    pollSeconds: 30,
    heartbeatSeconds: 60,
  });
  const lines: string[] = [];
  try {
    // The agents as a file, for the replicas without MongoDB.
    const file = join(cluster.dir, "agents.json");
    const docs = await cluster.client.db(cluster.dbName).collection("agents").find({}).toArray();
    await writeFile(file, JSON.stringify(docs.map(({ _id, ...doc }) => doc)));
    for (const replicas of [1, 2, 3]) {
      const leased: RunnerProcess[] = [];
      for (let i = 0; i < replicas; i++) leased.push(cluster.launch(`load-${replicas}-${i}`));
      const withLeases = await measure(leased, loadAgents);
      await Promise.all(leased.map((p) => p.terminate()));

      const unleased: RunnerProcess[] = [];
      for (let i = 0; i < replicas; i++) {
        const env = cluster.env(`plain-${replicas}-${i}`);
        delete env.MONGODB_URI;
        const p = new RunnerProcess({ ...env, AGENTS_FILE: file }, ["start"], { cwd: cluster.dir });
        cluster.all.push(p);
        unleased.push(p);
      }
      const without = await measure(unleased, loadAgents * replicas);
      await Promise.all(unleased.map((p) => p.terminate()));
      process.stdout.write(
        `${replicas} replica(s), ${loadAgents} agents: ${withLeases.toFixed(0)} requests/min with leases, ${without.toFixed(0)} without\n`,
      );
      lines.push(
        `| marketplace requests per minute, ${replicas} replica(s), ${loadAgents} agents (poll 30 s, heartbeat 60 s, ${windowSeconds} s window after ${warmupSeconds} s) | ${withLeases.toFixed(0)} with leases | ${without.toFixed(0)} without MongoDB (every replica runs every agent) |`,
      );
    }
  } finally {
    await cluster.close();
  }
  return lines;
}

const rows: string[] = [];
if (!values["skip-failover"]) rows.push(...(await failover()));
if (!values["skip-load"]) rows.push(...(await load()));
process.stdout.write(
  `\n| measurement | result | baseline |\n| --- | --- | --- |\n${rows.join("\n")}\n`,
);
process.exit(0);
