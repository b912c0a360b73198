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
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { parseArgs } from "node:util";
import { request } from "undici";
import { postJobTo, waitUntil } from "./support/market.ts";
import { median, sleep } from "./support/runner-child.ts";
import { compareVersions, type Version, withRunner } from "./support/session.ts";

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

function once(version: Version): Promise<Outcome | undefined> {
  let proxy: Awaited<ReturnType<typeof startProxy>> | undefined;
  const front = async (url: string) => {
    proxy = await startProxy(url);
    return proxy;
  };
  const env = { AGENT_POLL_INTERVAL: String(POLL_S), AGENT_HEARTBEAT_INTERVAL: "1" };
  return withRunner(version, { env, front }, async ({ market, counts }) => {
    const state = proxy!.state;
    await waitUntil("3 agents heartbeating", () => counts.heartbeatAgents.size >= 3, 120_000);
    await sleep(3000);
    state.down = true;
    state.whileDown = 0;
    const jobId = await postJobTo(market);
    await sleep(OUTAGE_MS);
    state.down = false;
    const recovered = performance.now();
    const requests = state.whileDown;
    await waitUntil("a bid after recovery", () => counts.firstBidAt.has(jobId), 60_000);
    return { requests, bidAfterRecoveryMs: (counts.firstBidAt.get(jobId) ?? 0) - recovered };
  });
}

await compareVersions(async ({ previous, current }) => {
  const results = new Map<string, Outcome[]>();
  for (let run = 0; run < Number(values.runs); run++) {
    for (const v of [previous, current]) {
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
});
