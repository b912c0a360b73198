/**
 * An 8 s marketplace outage with 3 agents, poll 1 s, heartbeat 1 s: the requests the
 * runner sends while the marketplace is down, and the time from recovery to the first
 * bid on a job posted during the outage, for the current version beside the previous
 * one in the same run. The bench sits a counting proxy between runner and marketplace
 * that drops every connection while "down". Target: < 20 requests, bidding within one
 * poll of recovery.
 *
 *   npm run bench:outage -- [--seconds 8] [--runs 3]
 */
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { request } from "undici";
import { postJobTo, startCountingMarketplace, waitUntil } from "./support/market.ts";
import { checkoutPrevious } from "./support/previous.ts";
import {
  buildCurrent,
  entryOf,
  median,
  ROOT,
  RunnerChild,
  sleep,
  startFlags,
} from "./support/runner-child.ts";

const { values } = parseArgs({
  options: {
    seconds: { type: "string", default: "8" },
    runs: { type: "string", default: "3" },
  },
});
const OUTAGE_MS = Number(values.seconds) * 1000;
const POLL_S = 1;

/** Forwards to `target`, or drops the connection while `down`; counts what arrives. */
async function startProxy(target: string) {
  const state = { down: false, seen: 0, whileDown: 0 };
  const server = createServer(async (req: IncomingMessage, res: ServerResponse) => {
    state.seen++;
    if (state.down) {
      state.whileDown++;
      req.socket.destroy();
      return;
    }
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    try {
      const headers = { ...req.headers };
      delete headers.host;
      delete headers.connection;
      const answer = await request(`${target}${req.url}`, {
        method: req.method as "GET",
        headers,
        body: chunks.length > 0 ? Buffer.concat(chunks) : undefined,
      });
      const body = Buffer.from(await answer.body.arrayBuffer());
      res.writeHead(answer.statusCode, {
        "content-type": String(answer.headers["content-type"] ?? "application/json"),
      });
      res.end(body);
    } catch {
      req.socket.destroy();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    state,
    close: () => {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(resolve));
    },
  };
}

interface Outcome {
  requests: number;
  bidAfterRecoveryMs: number;
}

async function once(version: { root: string; compiled: boolean }): Promise<Outcome | undefined> {
  const { market, counts, url } = await startCountingMarketplace();
  const proxy = await startProxy(url);
  const dir = mkdtempSync(join(tmpdir(), "bench-outage-"));
  const runner = new RunnerChild(
    entryOf(version.root, version.compiled),
    {
      BAZAAR_API_URL: proxy.url,
      AGENT_POLL_INTERVAL: String(POLL_S),
      AGENT_HEARTBEAT_INTERVAL: "1",
      RUNNER_STATE_DIR: join(dir, "state"),
      HOST: "127.0.0.1",
      PORT: "0",
    },
    dir,
    version.compiled ? startFlags() : [],
  );
  try {
    await waitUntil("3 agents heartbeating", () => counts.heartbeatAgents.size >= 3, 120_000);
    await sleep(3000);
    proxy.state.down = true;
    proxy.state.whileDown = 0;
    const jobId = await postJobTo(market);
    await sleep(OUTAGE_MS);
    proxy.state.down = false;
    const recovered = performance.now();
    const requests = proxy.state.whileDown;
    await waitUntil("a bid after recovery", () => counts.firstBidAt.has(jobId), 60_000);
    return { requests, bidAfterRecoveryMs: (counts.firstBidAt.get(jobId) ?? 0) - recovered };
  } catch (error) {
    process.stderr.write(`${String(error)}\n${runner.output}\n`);
    return undefined;
  } finally {
    await runner.stop();
    await proxy.close();
    await market.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

const previous = checkoutPrevious();
try {
  buildCurrent();
  const versions = [
    { name: `previous (${previous.ref})`, root: previous.dir, compiled: false },
    { name: "current", root: ROOT, compiled: true },
  ];
  const results = new Map<string, Outcome[]>();
  for (let run = 0; run < Number(values.runs); run++) {
    for (const v of versions) {
      const outcome = await once(v);
      if (outcome) results.set(v.name, [...(results.get(v.name) ?? []), outcome]);
    }
  }
  console.log(
    `\noutage of ${OUTAGE_MS / 1000} s, 3 agents, poll ${POLL_S} s, heartbeat 1 s; median of ${values.runs} runs each`,
  );
  console.log("| version | requests while down | recovery → first bid | runs |");
  console.log("| --- | ---: | ---: | --- |");
  for (const [name, outcomes] of results) {
    console.log(
      `| ${name} | ${median(outcomes.map((o) => o.requests))} | ${(median(outcomes.map((o) => o.bidAfterRecoveryMs)) / 1000).toFixed(2)} s | ${outcomes.map((o) => `${o.requests} req / ${(o.bidAfterRecoveryMs / 1000).toFixed(2)} s`).join("; ")} |`,
    );
  }
  console.log("target: < 20 requests, first bid within one poll (1 s) of recovery");
} finally {
  previous.remove();
}
