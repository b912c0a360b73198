/**
 * Time from posting a job to its first bid, on loopback: the current runner with push
 * (PUBLIC_URL set, webhook notifications from the embedded marketplace) beside the
 * previous version polling, in the same run; poll 2 s for both. Target: ≤ 200 ms at the
 * 95th percentile with push.
 *
 *   npm run bench:push -- [--jobs 20] [--poll 2]
 */
import { createServer } from "node:net";
import { parseArgs } from "node:util";
import { postJobTo, waitUntil } from "./support/market.ts";
import { sleep } from "./support/runner-child.ts";
import { compareVersions, type Version, withRunner } from "./support/session.ts";

const { values } = parseArgs({
  options: {
    jobs: { type: "string", default: "20" },
    poll: { type: "string", default: "2" },
  },
});
const JOBS = Number(values.jobs);
const POLL_S = Number(values.poll);

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return (
    sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? Number.NaN
  );
}

async function latencies(version: Version, push: boolean): Promise<number[]> {
  const port = await freePort();
  const env: Record<string, string> = {
    AGENT_POLL_INTERVAL: String(POLL_S),
    AGENT_HEARTBEAT_INTERVAL: "30",
    PORT: String(port),
  };
  if (push) env.PUBLIC_URL = `http://127.0.0.1:${port}`;
  const out: number[] = [];
  await withRunner(version, { env }, async ({ market, counts }) => {
    await waitUntil("3 agents heartbeating", () => counts.heartbeatAgents.size >= 3, 120_000);
    await sleep(2 * POLL_S * 1000);
    for (let i = 0; i < JOBS; i++) {
      const posted = performance.now();
      const jobId = await postJobTo(market);
      await waitUntil("a bid", () => counts.firstBidAt.has(jobId), 60_000);
      out.push((counts.firstBidAt.get(jobId) ?? 0) - posted);
      // Post at a different phase of the poll each time.
      await sleep(300 + Math.random() * POLL_S * 1000);
    }
  });
  return out;
}

await compareVersions(async ({ previous, current }) => {
  const rows = [
    { name: `${previous.name}, polling`, ms: await latencies(previous, false) },
    { name: "current, polling (no PUBLIC_URL)", ms: await latencies(current, false) },
    { name: "current, push (PUBLIC_URL)", ms: await latencies(current, true) },
  ];
  console.log(`\nposting → first bid, loopback, ${JOBS} jobs one at a time, poll ${POLL_S} s`);
  console.log("| runner | median | 95th percentile | max |");
  console.log("| --- | ---: | ---: | ---: |");
  for (const r of rows) {
    console.log(
      `| ${r.name} | ${percentile(r.ms, 50).toFixed(0)} ms | ${percentile(r.ms, 95).toFixed(0)} ms | ${Math.max(...r.ms).toFixed(0)} ms |`,
    );
  }
  console.log("target: ≤ 200 ms at the 95th percentile with push");
});
