/**
 * Start-up: N agents (300) starting at once, the time from the runner's start until every
 * one of them has heartbeated, with the agent configs in a file (and the SQLite ledger)
 * beside MongoDB configs (and the MongoDB ledger), each in the same run on the same
 * machine, the runs taking turns. Target: MongoDB within 1.5 × the file source.
 * With MongoDB every agent's first start takes a wallet index from the ledger, all of
 * them at once (issue 26): the MongoDB commands of the start-up are printed too.
 *
 *   npm run bench:startup -- [--agents 300] [--repeats 3] [--runs file,mongo]
 *
 * `--runs previous-mongo` adds the version at BENCH_BASELINE_REF (e.g. HEAD, to see the
 * start-up before a change). MongoDB is MONGODB_TEST_URI when set, else the project's
 * wire-protocol stand-in in a process of its own (bench/support/mongo-child.ts), which
 * journals nothing: read its figure as the cost of the round trips.
 */
import { parseArgs } from "node:util";
import { benchAgents } from "./support/agent-source.ts";
import { waitUntil } from "./support/market.ts";
import type { MongoTarget } from "./support/mongo-child.ts";
import { median } from "./support/runner-child.ts";
import { compareVersions, type Version, withRunner } from "./support/session.ts";

const { values } = parseArgs({
  options: {
    agents: { type: "string", default: "300" },
    repeats: { type: "string", default: "3" },
    runs: { type: "string", default: "file,mongo" },
  },
});
const AGENTS = Number(values.agents);
const REPEATS = Number(values.repeats);

interface Startup {
  ms: number;
  commands?: string;
}

/** The stand-in's command counts as "find 300, insert 301, …" (zero counts left out). */
function describeCounts(counts: Record<string, number> | undefined): string | undefined {
  if (!counts) return undefined;
  return Object.entries(counts)
    .filter(([, count]) => count > 0)
    .map(([name, count]) => `${name} ${count}`)
    .join(", ");
}

async function startup(version: Version, source: "file" | "mongo"): Promise<Startup | undefined> {
  let mongo: MongoTarget | undefined;
  const setup = async (dir: string): Promise<Record<string, string>> => {
    const agents = await benchAgents(source, dir, AGENTS, "startup");
    mongo = agents.mongo;
    return agents.env;
  };
  // Long intervals: what is measured is the start, not the steady state after it.
  const env = { AGENT_POLL_INTERVAL: "30", AGENT_HEARTBEAT_INTERVAL: "60" };
  try {
    return await withRunner(version, { env, setup }, async ({ counts, runner }) => {
      // The runner was spawned just before this body runs.
      const started = performance.now();
      await waitUntil(
        `${AGENTS} agents heartbeating`,
        () => {
          if (runner.child.exitCode !== null) throw new Error("the runner exited");
          return counts.heartbeatAgents.size >= AGENTS;
        },
        600_000,
      );
      const ms = performance.now() - started;
      return { ms, commands: describeCounts(await mongo?.counts()) };
    });
  } finally {
    await mongo?.close();
  }
}

await compareVersions(async ({ previous, current }) => {
  const plans = [
    { key: "file", name: "current, agent configs in a file", version: current, source: "file" },
    { key: "mongo", name: "current, MongoDB agent configs", version: current, source: "mongo" },
    {
      key: "previous-mongo",
      name: `${previous.name}, MongoDB agent configs`,
      version: previous,
      source: "mongo",
    },
  ] as const;
  const wanted = plans.filter((plan) => values.runs.split(",").includes(plan.key));
  const times = new Map<string, number[]>(wanted.map((plan) => [plan.key, []]));
  const commands = new Map<string, string>();
  // The runs take turns, so a busy spell of the machine falls on each alike.
  for (let round = 0; round < REPEATS; round++) {
    const thisRound = new Map<string, number>();
    for (const plan of wanted) {
      const result = await startup(plan.version, plan.source);
      if (!result) continue;
      console.log(
        `${plan.name}: all ${AGENTS} heartbeating after ${(result.ms / 1000).toFixed(2)} s`,
      );
      times.get(plan.key)?.push(result.ms);
      thisRound.set(plan.key, result.ms);
      if (result.commands) commands.set(plan.key, result.commands);
    }
    // Each round's own ratios: a busy spell of the shared machine falls on its runs alike.
    const file = thisRound.get("file");
    const pairs = [...thisRound]
      .filter(([key]) => key !== "file" && file !== undefined)
      .map(([key, ms]) => `${key} ${(ms / (file as number)).toFixed(2)}`);
    if (pairs.length > 0)
      console.log(`round ${round + 1}: ratio to the file source: ${pairs.join(", ")}`);
  }
  console.log(
    `\nstart-up: ${AGENTS} agents starting at once, runner start → all heartbeating (median of ${REPEATS}, the runs taking turns); poll 30 s, heartbeat 60 s`,
  );
  console.log("| agent configs | median | each run | ratio to the file source |");
  console.log("| --- | ---: | --- | ---: |");
  const file = median(times.get("file") ?? []);
  for (const plan of wanted) {
    const runs = times.get(plan.key) ?? [];
    if (runs.length === 0) continue;
    const ratio = Number.isFinite(file) && file > 0 ? (median(runs) / file).toFixed(2) : "–";
    console.log(
      `| ${plan.name} | ${(median(runs) / 1000).toFixed(2)} s | ${runs.map((ms) => (ms / 1000).toFixed(2)).join(", ")} | ${ratio} |`,
    );
  }
  for (const plan of wanted) {
    const seen = commands.get(plan.key);
    if (seen) console.log(`MongoDB commands of one start-up (${plan.name}): ${seen}`);
  }
  console.log("target: MongoDB within 1.5 × the file source");
});
