/**
 * The CPU one marketplace call costs the runner: a heartbeat (`POST
 * /api/agents/:id/heartbeat`, a small JSON body each way, the answer checked against
 * its schema) through the current transport, beside the previous version's transport
 * (the branch point, extracted from git) and two bare undici clients, `request()` and
 * `dispatch` with a minimal handler, all against one loopback server in a process of
 * its own, at concurrency 16 (the shared pool's connections). A runner of 10,000 agents
 * sends 170 heartbeats a second, so each microsecond here is 0.017 % of a core there.
 *
 *   npm run bench:transport -- [--calls 20000] [--rounds 3]
 *
 * Each figure is the median of the rounds; the clients take turns within a round. The
 * bench runs under the node flags of `npm start` (a small young generation makes each
 * allocation count as it does in the runner): it starts itself again with them.
 */
import { spawn } from "node:child_process";
import { once } from "node:events";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { Agent, type Dispatcher, request } from "undici";
import { HeartbeatResponseSchema } from "../src/marketplace/schemas.ts";
import { MarketplaceTransport } from "../src/marketplace/transport.ts";
import { checkoutPrevious } from "./support/previous.ts";
import { underRuntimeFlags } from "./support/runner-child.ts";

underRuntimeFlags();

const { values } = parseArgs({
  options: {
    calls: { type: "string", default: "20000" },
    rounds: { type: "string", default: "3" },
  },
});
const CALLS = Number(values.calls);
const ROUNDS = Number(values.rounds);
const CONCURRENCY = 16;

/** The heartbeat answer of the contract, always the same: the server does no work. */
const SERVER = `
const body = JSON.stringify({ success: true, agent_id: "a", status: "available", last_active: new Date().toISOString(), pending_jobs_count: 0, pending_jobs: [] });
require("node:http").createServer((req, res) => {
  req.resume();
  req.on("end", () => {
    res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(body) });
    res.end(body);
  });
}).listen(0, "127.0.0.1", function () { console.log(this.address().port); });
`;

const server = spawn(process.execPath, ["-e", SERVER], { stdio: ["ignore", "pipe", "inherit"] });
const [portLine] = (await once(server.stdout, "data")) as [Buffer];
const origin = `http://127.0.0.1:${Number(portLine.toString())}`;

const heartbeat = { status: "available", current_capacity: 3, metadata: { agent_type: "x" } };
const headers = {
  accept: "application/json",
  "content-type": "application/json",
  authorization: "Bearer session-token",
};
/** A client over one pool: sends the i-th heartbeat. */
type Client = (dispatcher: Dispatcher) => (i: number) => Promise<unknown>;

const bareRequest: Client = (dispatcher) => async (i) => {
  const answer = await request(`${origin}/api/agents/agent-${i}/heartbeat`, {
    dispatcher,
    method: "POST",
    headers,
    body: JSON.stringify(heartbeat),
  });
  return JSON.parse(await answer.body.text());
};

const bareDispatch: Client = (dispatcher) => (i) =>
  new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    dispatcher.dispatch(
      {
        origin,
        path: `/api/agents/agent-${i}/heartbeat`,
        method: "POST",
        headers,
        body: JSON.stringify(heartbeat),
      },
      {
        onRequestStart: () => {},
        onResponseStart: () => {},
        onResponseData: (_c, chunk) => void chunks.push(chunk),
        onResponseEnd: () => resolve(JSON.parse(Buffer.concat(chunks).toString())),
        onResponseError: (_c, error) => reject(error),
      },
    );
  });

interface TransportLike {
  call(options: object): Promise<unknown>;
}
type TransportClass = new (options: { baseUrl: string; dispatcher: Dispatcher }) => TransportLike;

const throughTransport =
  (Transport: TransportClass): Client =>
  (dispatcher) => {
    const transport = new Transport({ baseUrl: origin, dispatcher });
    // The previous transport took the filled-in path and the method; the current one
    // fills the route's parameters itself. Each reads its own fields.
    return (i) =>
      transport.call({
        method: "POST",
        path: `/api/agents/agent-${i}/heartbeat`,
        route: "POST /api/agents/:id/heartbeat",
        params: { id: `agent-${i}` },
        json: heartbeat,
        schema: HeartbeatResponseSchema,
        maxAttempts: 1,
        token: "session-token",
      });
  };

const previous = checkoutPrevious();
const clients: [string, Client][] = [];
try {
  const old = (await import(
    pathToFileURL(`${previous.dir}/src/marketplace/transport.ts`).href
  )) as { MarketplaceTransport: TransportClass };
  clients.push(
    ["bare undici request()", bareRequest],
    ["bare undici dispatch", bareDispatch],
    [`previous transport (${previous.ref})`, throughTransport(old.MarketplaceTransport)],
    ["current transport", throughTransport(MarketplaceTransport as unknown as TransportClass)],
  );

  /** CPU µs per call over `calls` calls at concurrency 16, after a warm-up. */
  async function measure(
    client: Client,
    calls: number,
  ): Promise<{ cpuUs: number; wallMs: number }> {
    const dispatcher = new Agent({ connections: CONCURRENCY });
    const call = client(dispatcher);
    const run = async (n: number) => {
      let next = 0;
      await Promise.all(
        Array.from({ length: CONCURRENCY }, async () => {
          while (next < n) await call(next++);
        }),
      );
    };
    await run(3000);
    const cpu = process.cpuUsage();
    const started = performance.now();
    await run(calls);
    const used = process.cpuUsage(cpu);
    const wallMs = performance.now() - started;
    await dispatcher.close();
    return { cpuUs: (used.user + used.system) / calls, wallMs };
  }

  const results = new Map<string, { cpuUs: number; wallMs: number }[]>();
  for (let round = 0; round < ROUNDS; round++) {
    for (const [name, client] of round % 2 === 0 ? clients : [...clients].reverse()) {
      const result = await measure(client, CALLS);
      results.set(name, [...(results.get(name) ?? []), result]);
    }
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;
  const bare = median((results.get("bare undici request()") ?? []).map((r) => r.cpuUs));
  console.log(
    `\n${CALLS} heartbeats per client per round, ${ROUNDS} rounds, concurrency ${CONCURRENCY}, Node ${process.version} ${process.execArgv.join(" ")}\n`,
  );
  console.log("| client | CPU µs per call (median) | × bare request() | calls per second |");
  console.log("| --- | ---: | ---: | ---: |");
  for (const [name] of clients) {
    const rs = results.get(name) ?? [];
    const cpu = median(rs.map((r) => r.cpuUs));
    const rate = CALLS / (median(rs.map((r) => r.wallMs)) / 1000);
    console.log(
      `| ${name} | ${cpu.toFixed(1)} | ${(cpu / bare).toFixed(2)} | ${Math.round(rate).toLocaleString("en")} |`,
    );
  }
} finally {
  previous.remove();
  server.kill();
}
