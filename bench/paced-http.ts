/**
 * What node's flags cost per HTTP call when calls are paced as the runner paces its
 * heartbeats (`--rate` a second in ticks of `--tick` ms, as the heartbeat clock sends
 * them), apart from the runner: bare undici `dispatch` with a minimal handler, a small
 * JSON body each way, through a Pool of 16 connections (the runner's) against a
 * loopback node:http server in the bench's process. Each client is a child process
 * started with one flag set; its CPU is its own (`process.cpuUsage`) over the window.
 * A runner of 10,000 agents heartbeats 167 times a second: 100 µs a call there is
 * 1.7 % of a core.
 *
 *   npm run bench:paced-http -- [--sets flags,drop=optimize-for-size,bare] [--rounds 3]
 *                               [--rate 167] [--tick 100] [--window 30] [--warmup 10]
 *
 * A set is named as bench:steady's doors name theirs (flagSetFor in support/doors.ts):
 * `flags` (the runtime flags, bin/runtime-flags.js), `bare` (none), `semi=N`,
 * `drop=NAME` (the runtime flags but that one) or `node:FLAG+FLAG…`. The sets take
 * turns within a round; each figure is the median of the rounds, with their range.
 */
import { spawn } from "node:child_process";
import { once } from "node:events";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { parseArgs } from "node:util";
import { Pool } from "undici";
import { flagSetFor } from "./support/doors.ts";
import { median, range } from "./support/runner-child.ts";

interface ClientOptions {
  port: number;
  rate: number;
  tickMs: number;
  warmupS: number;
  windowS: number;
}

interface ClientFigures {
  calls: number;
  failed: number;
  cpuPct: number;
  cpuUsPerCall: number;
}

const BODY = JSON.stringify({
  status: "available",
  current_capacity: 1,
  metadata: { runner: "bazaar-runner", agent_type: "code_reviewer", jobs_in_flight: 0 },
});

/** The child: paced calls, then its figures as one JSON line on stdout. */
async function client(options: ClientOptions): Promise<void> {
  const pool = new Pool(`http://127.0.0.1:${options.port}`, { connections: 16 });
  let calls = 0;
  let failed = 0;
  const call = (n: number) => {
    const chunks: Buffer[] = [];
    pool.dispatch(
      {
        path: `/api/agents/agent_${n}/heartbeat`,
        method: "POST",
        headers: { "content-type": "application/json" },
        body: BODY,
      },
      {
        onRequestStart() {},
        onResponseStart() {},
        onResponseData(_controller, chunk) {
          chunks.push(chunk);
        },
        onResponseEnd() {
          JSON.parse(Buffer.concat(chunks).toString("utf8"));
          calls++;
        },
        onResponseError() {
          failed++;
        },
      },
    );
  };
  const perTick = (options.rate * options.tickMs) / 1000;
  let owed = 0;
  let n = 0;
  const timer = setInterval(() => {
    owed += perTick;
    for (; owed >= 1; owed--) call(n++ % 10_000);
  }, options.tickMs);
  await new Promise((resolve) => setTimeout(resolve, options.warmupS * 1000));
  calls = 0;
  const started = process.hrtime.bigint();
  const cpu = process.cpuUsage();
  await new Promise((resolve) => setTimeout(resolve, options.windowS * 1000));
  const used = process.cpuUsage(cpu);
  const wallS = Number(process.hrtime.bigint() - started) / 1e9;
  clearInterval(timer);
  const cpuS = (used.user + used.system) / 1e6;
  const figures: ClientFigures = {
    calls,
    failed,
    cpuPct: (cpuS / wallS) * 100,
    cpuUsPerCall: (cpuS * 1e6) / Math.max(1, calls),
  };
  process.stdout.write(`${JSON.stringify(figures)}\n`);
  await pool.close();
}

async function runClient(flags: string[], options: ClientOptions): Promise<ClientFigures> {
  const child = spawn(process.execPath, [...flags, import.meta.filename], {
    env: { PATH: process.env.PATH ?? "", BENCH_PACED_CLIENT: JSON.stringify(options) },
    stdio: ["ignore", "pipe", "inherit"],
  });
  let out = "";
  child.stdout.on("data", (chunk: Buffer) => {
    out += chunk.toString("utf8");
  });
  const [code] = await once(child, "exit");
  if (code !== 0)
    throw new Error(`the client with ${flags.join(" ") || "no flags"} exited ${code}`);
  return JSON.parse(out.trim()) as ClientFigures;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      sets: { type: "string", default: "flags,drop=optimize-for-size,bare" },
      rounds: { type: "string", default: "3" },
      rate: { type: "string", default: "167" },
      tick: { type: "string", default: "100" },
      window: { type: "string", default: "30" },
      warmup: { type: "string", default: "10" },
    },
  });
  const keys = values.sets.split(",").filter(Boolean);
  const sets = keys.map((key) => {
    const flags = flagSetFor(key);
    if (flags === undefined)
      throw new Error(`unknown flag set ${key} (flags, bare, semi=N, drop=NAME, node:FLAG+FLAG…)`);
    return { key, flags };
  });
  let answered = 0;
  const server = createServer((req, res) => {
    req.resume();
    req.on("end", () => {
      const body = `{"agent_id":"agent_${answered++}","status":"available","last_heartbeat":"${new Date().toISOString()}"}`;
      res.writeHead(200, {
        "content-type": "application/json",
        "content-length": Buffer.byteLength(body),
      });
      res.end(body);
    });
  });
  server.keepAliveTimeout = 120_000;
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const options: ClientOptions = {
    port: (server.address() as AddressInfo).port,
    rate: Number(values.rate),
    tickMs: Number(values.tick),
    warmupS: Number(values.warmup),
    windowS: Number(values.window),
  };
  const results = new Map<string, ClientFigures[]>(keys.map((k) => [k, []]));
  const rounds = Number(values.rounds);
  for (let round = 1; round <= rounds; round++) {
    for (const { key, flags } of sets) {
      const figures = await runClient(flags, options);
      results.get(key)?.push(figures);
      console.log(
        `round ${round} ${key}: ${figures.calls} calls, ${figures.cpuUsPerCall.toFixed(0)} µs CPU a call, ${figures.cpuPct.toFixed(2)} % of a core${figures.failed ? `, ${figures.failed} failed` : ""}`,
      );
    }
  }
  server.close();
  console.log(
    `\nbare undici dispatch, ${options.rate} calls a second in ticks of ${options.tickMs} ms, 16 connections, window ${options.windowS} s after ${options.warmupS} s; median (range) of ${rounds} rounds`,
  );
  for (const { key, flags } of sets) console.log(`  ${key}: ${flags.join(" ") || "(no flags)"}`);
  console.log("| flag set | µs of CPU a call | % of a core | calls in the window |");
  console.log("| --- | ---: | ---: | ---: |");
  for (const { key } of sets) {
    const runs = results.get(key) ?? [];
    const us = runs.map((r) => r.cpuUsPerCall);
    const pct = runs.map((r) => r.cpuPct);
    console.log(
      `| ${key} | ${median(us).toFixed(0)} (${range(us, 0)}) | ${median(pct).toFixed(2)} (${range(pct, 2)}) | ${median(runs.map((r) => r.calls)).toFixed(0)} |`,
    );
  }
}

const childOptions = process.env.BENCH_PACED_CLIENT;
if (childOptions) await client(JSON.parse(childOptions) as ClientOptions);
else await main();
