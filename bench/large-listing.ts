/**
 * The memory a job listing costs the client as the listing grows: `GET /api/jobs`
 * answering 100 jobs of 10 MB each (1 GB: the real service lists up to 100 jobs, each
 * up to MongoDB's 16 MB; in issue 28, three of 11 MB passed the previous client's
 * 32 MB cap and it refused the whole listing), read by the current client
 * (`ListingReader`, each job kept to its limits, the big ones marked too_large), beside
 * baselines from the same run: the same client on listings of small jobs (1 KB, and
 * 200 KB, kept whole: below the 256 KB a description may have), and the
 * previous way (the whole body collected as text, then JSON.parse), which cannot go
 * past V8's largest string (512 MB) at all, on 10 and 40 jobs of 10 MB.
 *
 *   npm run bench:large-listing -- [--jobs 100] [--mb 10]
 *
 * The listing comes from a loopback server in a process of its own, which streams it
 * job by job; each measurement runs in a fresh process under the node flags of
 * `npm start`, so its peak RSS (getrusage) is the listing's alone. Exits 1 when the
 * streamed listing's peak RSS grows with the listing: more than 64 MB above the small
 * listing's.
 */
import { spawn, spawnSync } from "node:child_process";
import { once } from "node:events";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { Agent } from "undici";
import { MarketplaceClient } from "../src/marketplace/client.ts";
import { JobListingSchema } from "../src/marketplace/schemas.ts";
import { MarketplaceTransport } from "../src/marketplace/transport.ts";
import { startFlags } from "./support/runner-child.ts";

const { values } = parseArgs({
  options: {
    jobs: { type: "string", default: "100" },
    mb: { type: "string", default: "10" },
    measure: { type: "string" },
    origin: { type: "string" },
  },
});

/** One measurement, in the process it runs in. */
interface Measured {
  way: string;
  jobs: number;
  jobBytes: number;
  listed: number;
  tooLarge: number;
  baseRssMb: number;
  peakRssMb: number;
  heapGrowthMb: number;
  ms: number;
}

const MB = 1024 * 1024;

/**
 * Streams `{"jobs": [...], "count": n}` of n jobs whose descriptions are `bytes` long,
 * one job at a time: the path's first segment says which (`/n100-b10485760/api/jobs`).
 */
const SERVER = `
const http = require("node:http");
const { once } = require("node:events");
const fill = new Map();
http.createServer(async (req, res) => {
  const match = /^\\/n(\\d+)-b(\\d+)\\//.exec(req.url);
  const n = Number(match[1]), bytes = Number(match[2]);
  if (!fill.has(bytes)) fill.set(bytes, Buffer.alloc(bytes, "x"));
  res.writeHead(200, { "content-type": "application/json" });
  const write = async (chunk) => { if (!res.write(chunk)) await once(res, "drain"); };
  await write('{"jobs":[');
  for (let i = 0; i < n; i++) {
    const id = "job_" + String(i).padStart(8, "0");
    await write((i ? "," : "") + '{"job_id":"' + id + '","title":"Job ' + i + '","description":"');
    await write(fill.get(bytes));
    await write('","status":"posted","budget_usd":1,"deadline_minutes":10,"required_capabilities":["sql"]}');
  }
  res.end('],"count":' + n + '}');
}).listen(0, "127.0.0.1", function () { console.log(this.address().port); });
`;

if (values.measure) {
  console.log(JSON.stringify(await measure(values.measure, String(values.origin))));
  process.exit(0);
}

const JOBS = Number(values.jobs);
const JOB_BYTES = Number(values.mb) * MB;
const server = spawn(process.execPath, ["-e", SERVER], { stdio: ["ignore", "pipe", "inherit"] });
const [portLine] = (await once(server.stdout, "data")) as [Buffer];
const origin = `http://127.0.0.1:${Number(portLine.toString())}`;

const plan: Array<[way: string, jobs: number, jobBytes: number]> = [
  ["stream", JOBS, 1024],
  ["stream", JOBS, 200 * 1024],
  ["stream", 10, JOB_BYTES],
  ["stream", 40, JOB_BYTES],
  ["stream", JOBS, JOB_BYTES],
  ["text+JSON.parse", 10, JOB_BYTES],
  ["text+JSON.parse", 40, JOB_BYTES],
];
const results: Measured[] = [];
try {
  for (const [way, jobs, jobBytes] of plan) {
    const run = spawnSync(
      process.execPath,
      [
        ...startFlags(),
        fileURLToPath(import.meta.url),
        "--measure",
        `${way}:${jobs}:${jobBytes}`,
        "--origin",
        origin,
      ],
      { encoding: "utf8", maxBuffer: 1 << 20 },
    );
    if (run.status !== 0) throw new Error(`${way} × ${jobs} failed: ${run.stderr}`);
    const result = JSON.parse(run.stdout.trim().split("\n").pop() ?? "") as Measured;
    results.push(result);
    console.error(`measured ${way}, ${jobs} × ${jobBytes} B`);
  }
} finally {
  server.kill();
}

const size = (bytes: number) =>
  bytes >= MB ? `${Number((bytes / MB).toFixed(1))} MB` : `${Number((bytes / 1024).toFixed(1))} KB`;
console.log(
  `Measured ${new Date().toISOString().slice(0, 16).replace("T", " ")} UTC, Node ${process.version}, flags of \`npm start\`.\n`,
);
console.log(
  "| client | listing | body | jobs read / too_large | RSS before | peak RSS | peak heap growth | time |",
);
console.log("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |");
for (const r of results) {
  console.log(
    `| ${r.way === "stream" ? "current (streamed)" : "previous (text + JSON.parse)"} | ${r.jobs} × ${size(r.jobBytes)} | ${size(r.jobs * r.jobBytes)} | ${r.listed} / ${r.tooLarge} | ${r.baseRssMb} MB | **${r.peakRssMb} MB** | ${r.heapGrowthMb} MB | ${(r.ms / 1000).toFixed(1)} s |`,
  );
}
const small = results[0];
const large = results[4];
if (small && large && large.peakRssMb - small.peakRssMb > 64) {
  console.error(
    `the streamed listing's peak RSS grew ${large.peakRssMb - small.peakRssMb} MB over the small listing's`,
  );
  process.exit(1);
}

/** Lists jobs one way and reports the memory it took. */
async function measure(spec: string, base: string): Promise<Measured> {
  const [way = "", jobsText = "", bytesText = ""] = spec.split(":");
  const jobs = Number(jobsText);
  const jobBytes = Number(bytesText);
  const dispatcher = new Agent({ connections: 1 });
  const baseUrl = `${base}/n${jobs}-b${jobBytes}`;
  // A first small call loads and warms everything the measured one uses.
  const warm = new MarketplaceClient({ baseUrl: `${base}/n1-b10`, dispatcher });
  await warm.listJobs({ status: "posted" });
  const transport = new MarketplaceTransport({ baseUrl: `${base}/n1-b10`, dispatcher });
  await transport.call({ route: "GET /api/jobs", schema: JobListingSchema });
  globalThis.gc?.();
  const before = process.memoryUsage();
  let heapPeak = before.heapUsed;
  const sampler = setInterval(() => {
    heapPeak = Math.max(heapPeak, process.memoryUsage().heapUsed);
  }, 2);
  const started = performance.now();
  let listed = 0;
  let tooLarge = 0;
  if (way === "stream") {
    const client = new MarketplaceClient({ baseUrl, dispatcher, timeoutMs: 120_000 });
    const listing = await client.listJobs({ status: "posted" });
    listed = listing.jobs.length;
    tooLarge = listing.rejected.filter((r) => r.reason === "too_large").length;
  } else {
    // The previous client: the whole body as text (no cap here), then JSON.parse.
    const old = new MarketplaceTransport({
      baseUrl,
      dispatcher,
      timeoutMs: 120_000,
      maxBodyBytes: 2 * 1024 * MB,
    });
    const body = await old.call({ route: "GET /api/jobs", schema: JobListingSchema });
    listed = body.jobs.length;
  }
  const ms = performance.now() - started;
  heapPeak = Math.max(heapPeak, process.memoryUsage().heapUsed);
  clearInterval(sampler);
  await dispatcher.close();
  return {
    way,
    jobs,
    jobBytes,
    listed,
    tooLarge,
    baseRssMb: Math.round(before.rss / MB),
    peakRssMb: Math.round((process.resourceUsage().maxRSS * 1024) / MB),
    heapGrowthMb: Math.round((heapPeak - before.heapUsed) / MB),
    ms: Math.round(ms),
  };
}
