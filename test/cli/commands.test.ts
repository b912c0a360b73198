import { existsSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { envVariableDocs } from "../../src/config/env.ts";
import { JOB_STATUSES } from "../../src/marketplace/schemas.ts";
import { type RunningMarketplace, startMarketplace } from "../../src/marketplace-server/index.ts";
import { api, obj, placeBidOk, postJob, registerAgent } from "../support/marketplace-requests.ts";
import { RunnerProcess } from "../support/runner-process.ts";
import {
  closedPort,
  lines,
  MAIN,
  NO_RUNNER_URL,
  postedJobId,
  runCli,
  runProcess,
  tempDir,
} from "./cli.ts";

/** One line on stderr, and no stack trace. */
function expectOneCleanLine(stderr: string): string {
  const errLines = lines(stderr);
  expect(errLines, stderr).toHaveLength(1);
  expect(stderr).not.toMatch(/^\s+at /m);
  return errLines[0] ?? "";
}

// Each test runs the CLI several times; a loaded machine takes seconds per run.
describe("bazaar-runner jobs / agents / marketplace", { timeout: 120_000 }, () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let marketplace: RunningMarketplace | undefined;
  const children: RunnerProcess[] = [];

  beforeEach(async () => {
    dir = await tempDir();
  });
  afterEach(async () => {
    for (const child of children.splice(0)) {
      if (child.child.exitCode === null && child.child.signalCode === null) await child.kill9();
    }
    await marketplace?.close();
    marketplace = undefined;
    await dir.cleanup();
  });

  async function market(): Promise<RunningMarketplace> {
    marketplace = await startMarketplace({
      host: "127.0.0.1",
      port: 0,
      dbPath: join(dir.path, "market.sqlite"),
    });
    return marketplace;
  }

  const cli = (args: string[], env: Record<string, string> = {}) =>
    runCli(args, {
      cwd: dir.path,
      env: { RUNNER_STATE_DIR: join(dir.path, "state"), ...env },
    });

  it("counters a bid as the job's poster, signed in with the CLI's poster key", async () => {
    const m = await market();
    const env = { BAZAAR_API_URL: m.url };
    const posted = await cli(
      ["jobs", "post", "--title", "Review", "--description", "Review it", "--budget", "3"],
      env,
    );
    expect(posted.code, posted.stderr).toBe(0);
    const jobId = postedJobId(posted.stdout);
    const a = api(m.url);
    const agentWallet = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8";
    const agentId = await registerAgent(a, { wallet_address: agentWallet });
    const bidId = await placeBidOk(a, jobId, { agent_id: agentId, price_usd: 2 });

    // The job was posted with the CLI's own poster key, so the CLI can sign in as its poster.
    const countered = await cli(["jobs", "counter", bidId, "--price", "1.5"], env);
    expect(countered.code, countered.stderr).toBe(0);
    expect(countered.stdout).toContain(`countered ${bidId} at $1.5: counter_offered, round 1 of 5`);
    const bid = (await a.req("GET", `/api/jobs/${jobId}/bids`)).json as {
      bids: { status: string; counter_offers: { by: string; price_usd: number }[] }[];
    };
    expect(bid.bids[0]).toMatchObject({ status: "counter_offered" });
    expect(bid.bids[0]?.counter_offers).toMatchObject([{ by: "poster", price_usd: 1.5 }]);
    const bad = await cli(["jobs", "counter", "bid_00000000", "--price", "1"], env);
    expect(bad.code).toBe(1);
    expect(expectOneCleanLine(bad.stderr)).toMatch(
      /cannot counter bid_00000000: Bid not found \(404\)/,
    );
  });

  it("completes a job as its poster: the marketplace pays the agent, once", async () => {
    const m = await market();
    const env = { BAZAAR_API_URL: m.url };
    const a = api(m.url);
    const jobId = await postJob(a, { budget_usd: 3 });
    const agentWallet = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8";
    const agentId = await registerAgent(a, { wallet_address: agentWallet });
    const bidId = await placeBidOk(a, jobId, { agent_id: agentId, price_usd: 2 });
    await a.req("POST", `/api/jobs/${jobId}/select-bid/${bidId}`);
    await a.req("POST", `/api/jobs/${jobId}/submit-result`, {
      success: true,
      output: "reviewed",
      executed_by: agentId,
    });
    const done = await cli(["jobs", "complete", jobId, "--quality", "0.9"], env);
    expect(done.code, done.stderr).toBe(0);
    expect(done.stdout).toContain(`completed ${jobId}: quality 0.9, released, paid $2 of $2`);
    expect(done.stdout).toContain(`$2 to ${agentWallet} (released)`);
    // As on the service, a second sign-off fails on the settled escrow (a bare 500), and
    // the agent is not paid twice.
    const again = await cli(["jobs", "complete", jobId, "--quality", "0.9"], env);
    expect(again.code).toBe(1);
    expect(expectOneCleanLine(again.stderr)).toMatch(/complete: answered 500/);
    const agent = await a.req("GET", `/api/agents/${agentId}`);
    expect(agent.json).toMatchObject({ total_earned_usd: 2 });
  });

  it("posts, lists, shows and awards a job (--best picks confidence per dollar)", async () => {
    const m = await market();
    const env = { BAZAAR_API_URL: m.url };

    const posted = await cli(
      [
        "jobs",
        "post",
        "--title",
        "Review the billing module",
        "--description",
        "Find the bugs in our billing code",
        "--budget",
        "2",
        "--capability",
        "code_review",
        "--capability",
        "analysis",
      ],
      env,
    );
    expect(posted.code, posted.stderr).toBe(0);
    const jobId = postedJobId(posted.stdout);
    expect(jobId).toMatch(/^job_[0-9a-f]{8}$/);

    const listed = await cli(["jobs", "list"], env);
    expect(listed.code, listed.stderr).toBe(0);
    expect(listed.stdout).toContain(jobId);
    expect(listed.stdout).toContain("Review the billing module");
    expect((await cli(["jobs", "list", "--status", "posted"], env)).stdout).toContain(jobId);
    expect((await cli(["jobs", "list", "--status", "completed"], env)).stdout.trim()).toBe(
      "no jobs",
    );

    const fresh = await cli(["jobs", "show", jobId], env);
    expect(fresh.code, fresh.stderr).toBe(0);
    expect(fresh.stdout).toContain("capabilities: code_review, analysis");
    expect(fresh.stdout).toContain("bids (0):");
    expect(fresh.stdout).toContain("none yet");

    // Two bidders through the raw API: the dearer one is the better value.
    const a = api(m.url);
    const careful = await registerAgent(a, { name: "Careful" });
    const cheap = await registerAgent(a, { name: "Cheap" });
    const goodBid = await placeBidOk(a, jobId, {
      agent_id: careful,
      price_usd: 0.5,
      estimated_quality: 0.9,
    });
    const cheapBid = await placeBidOk(a, jobId, {
      agent_id: cheap,
      price_usd: 0.4,
      estimated_quality: 0.5,
    });

    const withBids = await cli(["jobs", "show", jobId], env);
    expect(withBids.stdout).toContain("bids (2):");
    expect(withBids.stdout).toMatch(
      new RegExp(`${goodBid}.*\\$0\\.500  confidence 0\\.9  Careful \\(${careful}\\)`),
    );
    expect(withBids.stdout).not.toContain("quality");
    // No runner answers at RUNNER_URL: the decisions line says where it looked.
    expect(withBids.stdout).toContain(
      `decisions: no runner answers at ${NO_RUNNER_URL} (RUNNER_URL)`,
    );
    expect(withBids.stdout).toMatch(new RegExp(`${cheapBid}.*\\$0\\.400.*Cheap \\(${cheap}\\)`));

    const awarded = await cli(["jobs", "award", jobId, "--best"], env);
    expect(awarded.code, awarded.stderr).toBe(0);
    expect(awarded.stdout.trim()).toBe(`awarded ${jobId} to bid ${goodBid} (assigned)`);
    const after = await cli(["jobs", "show", jobId], env);
    expect(after.stdout).toMatch(new RegExp(`^${jobId}\\s+assigned`, "m"));
    expect(after.stdout).toMatch(new RegExp(`assigned to ${careful}`));
    expect(after.stdout).toMatch(new RegExp(`${goodBid}\\s+accepted`));

    // Awarding an assigned job again is refused by the marketplace: one line, exit 1.
    const again = await cli(["jobs", "award", jobId, "--bid", cheapBid], env);
    expect(again.code).toBe(1);
    expect(expectOneCleanLine(again.stderr)).toMatch(
      new RegExp(`^bazaar-runner: cannot award ${jobId} to ${cheapBid}: .+\\(4\\d\\d\\)$`),
    );
  });

  it("awards an explicit --bid", async () => {
    const m = await market();
    const env = { BAZAAR_API_URL: m.url };
    const jobId = postedJobId(
      (
        await cli(
          ["jobs", "post", "--title", "T", "--description", "D", "--budget", "1"].concat([
            "--capability",
            "analysis",
          ]),
          env,
        )
      ).stdout,
    );
    const a = api(m.url);
    const agent = await registerAgent(a, { name: "Only" });
    const bid = await placeBidOk(a, jobId, { agent_id: agent, price_usd: 0.3 });
    const awarded = await cli(["jobs", "award", jobId, "--bid", bid], env);
    expect(awarded.code, awarded.stderr).toBe(0);
    expect(awarded.stdout.trim()).toBe(`awarded ${jobId} to bid ${bid} (assigned)`);
  });

  it("--best on a job without bids says so", async () => {
    const m = await market();
    const env = { BAZAAR_API_URL: m.url };
    const jobId = postedJobId(
      (await cli(["jobs", "post", "--title", "T", "--description", "D", "--budget", "1"], env))
        .stdout,
    );
    const run = await cli(["jobs", "award", jobId, "--best"], env);
    expect(run.code).toBe(1);
    expect(expectOneCleanLine(run.stderr)).toBe(
      `bazaar-runner: job ${jobId} (posted) has no open bid to award yet`,
    );
  });

  it("an unknown job is a clear 404 line for show and award", async () => {
    const m = await market();
    const env = { BAZAAR_API_URL: m.url };
    const show = await cli(["jobs", "show", "job_00000000"], env);
    expect(show.code).toBe(1);
    expect(show.stdout).toBe("");
    expect(expectOneCleanLine(show.stderr)).toBe(
      `bazaar-runner: no job job_00000000 on ${m.url} (404)`,
    );
    const award = await cli(["jobs", "award", "job_00000000", "--best"], env);
    expect(award.code).toBe(1);
    expect(expectOneCleanLine(award.stderr)).toBe(
      `bazaar-runner: no job job_00000000 on ${m.url} (404)`,
    );
  });

  it("jobs award needs exactly one of --bid and --best (a usage error)", async () => {
    const m = await market();
    const env = { BAZAAR_API_URL: m.url };
    for (const args of [
      ["jobs", "award", "job_00000000"],
      ["jobs", "award", "job_00000000", "--best", "--bid", "bid_00000000"],
    ]) {
      const run = await cli(args, env);
      expect(run.code, args.join(" ")).not.toBe(0);
      expect(run.stdout).toBe("");
      expect(lines(run.stderr)[0]).toBe("error: give exactly one of --bid BID or --best");
      expect(run.stderr).toContain("Usage: bazaar-runner jobs award");
      expect(run.stderr).not.toMatch(/^\s+at /m);
    }
  });

  it("a marketplace that is down: exit 1 and one line saying where and what to check", async () => {
    const port = await closedPort();
    const url = `http://127.0.0.1:${port}`;
    for (const args of [
      ["jobs", "list"],
      ["jobs", "show", "job_00000000"],
      ["jobs", "post", "--title", "T", "--description", "D", "--budget", "1"],
      ["jobs", "award", "job_00000000", "--best"],
    ]) {
      const run = await cli(args, { BAZAAR_API_URL: url });
      expect(run.code, args.join(" ")).toBe(1);
      expect(run.stdout).toBe("");
      const line = expectOneCleanLine(run.stderr);
      expect(line).toMatch(/^bazaar-runner: /);
      expect(line).toContain(`cannot reach ${url}`);
      expect(line).toContain("BAZAAR_API_URL");
    }
  });

  it("a bad environment value: exit 1 and one line naming the variable", async () => {
    for (const [variable, value] of [
      ["AGENT_POLL_INTERVAL", "abc"],
      ["BAZAAR_API_URL", "not a url"],
      ["PORT", "99999"],
    ] as const) {
      const run = await cli(["jobs", "list"], { [variable]: value });
      expect(run.code, variable).toBe(1);
      const line = expectOneCleanLine(run.stderr);
      expect(line).toMatch(new RegExp(`^bazaar-runner: configuration error: ${variable}: `));
    }
    // `start` fails the same way, before serving anything.
    const start = await cli(["start"], { AGENT_POLL_INTERVAL: "abc" });
    expect(start.code).toBe(1);
    expect(expectOneCleanLine(start.stderr)).toContain("AGENT_POLL_INTERVAL");
  });

  it("start refuses a marketplace elsewhere without a wallet: one line, no request sent", async () => {
    let requests = 0;
    const server = createServer((_req, res) => {
      requests++;
      res.end("{}");
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    try {
      const port = (server.address() as AddressInfo).port;
      const run = await cli(["start"], { BAZAAR_API_URL: `http://0.0.0.0:${port}`, PORT: "0" });
      expect(run.code).toBe(1);
      const line = expectOneCleanLine(run.stderr);
      expect(line).toMatch(/^bazaar-runner: configuration error: no wallet configured/);
      expect(line).toMatch(/unrecoverable.*AGENT_WALLET_MNEMONIC.*AGENT_WALLET \(/);
      expect(requests).toBe(0);
    } finally {
      server.close();
    }
  });

  it("jobs post checks its own options", async () => {
    const m = await market();
    const run = await cli(
      ["jobs", "post", "--title", "T", "--description", "D", "--budget", "lots"],
      { BAZAAR_API_URL: m.url },
    );
    expect(run.code).toBe(1);
    expect(expectOneCleanLine(run.stderr)).toBe(
      "bazaar-runner: --budget must be a positive number of USD",
    );
    const missing = await cli(["jobs", "post", "--title", "T"], { BAZAAR_API_URL: m.url });
    expect(missing.code).not.toBe(0);
    expect(lines(missing.stderr)[0]).toBe(
      "error: missing required options: --description <text>, --budget <usd>",
    );
    const none = await cli(["jobs", "post"], { BAZAAR_API_URL: m.url });
    expect(none.code).not.toBe(0);
    expect(lines(none.stderr)[0]).toBe(
      "error: missing required options: --title <title>, --description <text>, --budget <usd>",
    );
    expect(none.stderr).toContain("Usage: bazaar-runner jobs post");
    // Nothing was posted.
    expect((await cli(["jobs", "list"], { BAZAAR_API_URL: m.url })).stdout.trim()).toBe("no jobs");
  });

  it("jobs post --poster-wallet posts the job under that one wallet (a string, not a list)", async () => {
    const m = await market();
    const wallet = "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC";
    const posted = await cli(
      [
        "jobs",
        "post",
        "--title",
        "T",
        "--description",
        "D",
        "--budget",
        "1",
        "--poster-wallet",
        wallet,
      ],
      { BAZAAR_API_URL: m.url },
    );
    expect(posted.code, posted.stderr).toBe(0);
    const job = obj((await api(m.url).req("GET", `/api/jobs/${postedJobId(posted.stdout)}`)).json);
    expect(job.poster_wallet).toBe(wallet);
  });

  it("jobs list --status rejects an unknown status and lists the valid ones", async () => {
    const m = await market();
    const run = await cli(["jobs", "list", "--status", "bogus"], { BAZAAR_API_URL: m.url });
    expect(run.code).not.toBe(0);
    expect(run.stdout).toBe("");
    const first = lines(run.stderr)[0] ?? "";
    expect(first).toContain("'bogus' is invalid");
    for (const status of JOB_STATUSES) expect(first).toContain(status);
  });

  it("jobs commands load none of the runner", async () => {
    const m = await market();
    // A module hook that names, on stderr, each module of src/runner/ the process loads.
    const trace = `import { registerHooks } from "node:module";
registerHooks({ resolve(specifier, context, next) {
  const found = next(specifier, context);
  if (found.url.includes("/src/runner/")) process.stderr.write("loaded " + found.url + "\\n");
  return found;
} });`;
    const run = await runProcess(
      process.execPath,
      [`--import=data:text/javascript,${encodeURIComponent(trace)}`, MAIN, "jobs", "list"],
      { cwd: dir.path, env: { PATH: process.env.PATH ?? "", BAZAAR_API_URL: m.url } },
    );
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).not.toContain("loaded ");
  });

  it("start --help lists every environment variable with its default", async () => {
    const run = await cli(["start", "--help"]);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toContain("Usage: bazaar-runner start");
    for (const variable of envVariableDocs()) {
      const line = run.stdout.split("\n").find((l) => l.trim().startsWith(`${variable.name} `));
      expect(line, variable.name).toBeDefined();
      const shown = variable.default === "–" ? "unset" : variable.default.replaceAll("`", "");
      expect(line).toContain(`[default: ${shown}]`);
    }
    expect(run.stdout).toMatch(
      /^\s+AGENT_POLL_INTERVAL\s+Seconds between job polls\. \[default: 30\]$/m,
    );
    expect(run.stdout).toMatch(/^\s+HOST\s+.*\[default: 127\.0\.0\.1\]$/m);
  });

  it("agents list shows the three built-in agents by default, under a header that explains itself", async () => {
    const run = await cli(["agents", "list"]);
    expect(run.code, run.stderr).toBe(0);
    const out = lines(run.stdout);
    expect(out[0]).toBe("source: defaults, 3 agent(s), 0 rejected");
    expect(out[1]?.trim().split(/\s{2,}/)).toEqual([
      "NAME",
      "TYPE",
      "STATUS",
      "RATE",
      "AGENT ID",
      "MODEL",
      "CONFIG ENTRY",
    ]);
    expect(out.slice(2, 5).map((l) => l.trim().split(/\s+/)[0])).toEqual([
      "SchemaArchitect",
      "AnomalyHunter",
      "CodeReviewer",
    ]);
    // No runner answers: no id, and the footer says where it looked.
    expect(out[2]).toMatch(/^\s+SchemaArchitect\s+schema_architect\s+available\s+\$0\.04\s+-\s+/);
    expect(out[5]).toBe(
      `AGENT ID: the marketplace id from the config; no runner answers at ${NO_RUNNER_URL} (RUNNER_URL), so the ids a runner registered are not shown ("-").`,
    );
    expect(out[6]).toBe(
      "CONFIG ENTRY: where the agent's config came from (the built-in agent's name).",
    );
    expect(out).toHaveLength(7);
    expect(run.stdout).not.toContain("registers at start");
    expect(run.stdout).not.toContain("rejected:");
  });

  it("agents list with an AGENTS_FILE lists the bad entry with its problem", async () => {
    const file = join(dir.path, "agents.yaml");
    await writeFile(
      file,
      [
        "- name: Builder",
        "  agent_type: schema_architect",
        "  base_rate_usd: 0.06",
        "  capabilities: {schema_design: 0.9}",
        "- name: Broken",
        "  agent_type: code_reviewer",
        "  base_rate_usd: cheap",
        "  capabilities: {code_review: 0.9}",
        "",
      ].join("\n"),
    );
    const run = await cli(["agents", "list"], { AGENTS_FILE: file });
    expect(run.code, run.stderr).toBe(0);
    const out = lines(run.stdout);
    expect(out[0]).toBe("source: file, 1 agent(s), 1 rejected");
    expect(out[1]).toMatch(/^\s+NAME\s+TYPE/);
    expect(out[2]).toMatch(/^\s+Builder\s+schema_architect\s+available\s+\$0\.06/);
    expect(out[4]).toBe(
      "CONFIG ENTRY: where the agent's config came from (the file and the entry's index).",
    );
    expect(out[5]).toBe("rejected:");
    expect(out[6]).toMatch(/agents\.yaml\[1\] \(Broken\): .*base_rate_usd/);
    expect(out).toHaveLength(7);
  });

  it("agents list with a missing AGENTS_FILE fails with one line", async () => {
    const run = await cli(["agents", "list"], { AGENTS_FILE: join(dir.path, "nope.yaml") });
    expect(run.code).toBe(1);
    expect(expectOneCleanLine(run.stderr)).toContain("nope.yaml");
  });

  it("marketplace --port 0 --db FILE serves the API and exits 0 on SIGTERM", async () => {
    const db = join(dir.path, "served.sqlite");
    const child = new RunnerProcess(
      { RUNNER_STATE_DIR: join(dir.path, "state") },
      ["marketplace", "--port", "0", "--db", db],
      { cwd: dir.path },
    );
    children.push(child);
    const listening = await child.waitForLog(
      "the marketplace's listening line",
      (l) => l.msg === "embedded AgentBazaar marketplace listening",
    );
    const url = String(listening.url);
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(listening.db).toBe(db);

    const posted = await cli(
      ["jobs", "post", "--title", "Served", "--description", "D", "--budget", "1"],
      { BAZAAR_API_URL: url },
    );
    expect(posted.code, posted.stderr).toBe(0);
    const agents = await fetch(`${url}/api/agents`);
    expect(agents.status).toBe(200);
    expect(await agents.json()).toMatchObject({ agents: [] });

    expect(await child.terminate()).toEqual({ code: 0, signal: null });
    expect(child.lines.some((l) => l.msg === "marketplace stopped")).toBe(true);
    expect(existsSync(db)).toBe(true);
  });

  it("a mistyped command is named as such, not taken for an argument of `start`", async () => {
    const run = await cli(["jbos", "list"]);
    expect(run.code).toBe(1);
    expect(expectOneCleanLine(run.stderr)).toBe(
      "bazaar-runner: unknown command 'jbos' (commands: start, marketplace, jobs, agents, doctor; see --help)",
    );
    const help = await cli(["--help"]);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain("Usage: bazaar-runner");
  });

  it("marketplace rejects a bad --port with one line", async () => {
    const run = await cli(["marketplace", "--port", "eighty"]);
    expect(run.code).not.toBe(0);
    expect(run.stderr).toContain("--port must be a non-negative number");
    expect(run.stderr).not.toMatch(/^\s+at /m);
  });
});
