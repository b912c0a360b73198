import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type App, startApp } from "../../src/cli/start.ts";
import { loadConfig } from "../../src/config/env.ts";
import { createLogger } from "../../src/logger.ts";
import { type RunningMarketplace, startMarketplace } from "../../src/marketplace-server/index.ts";
import { LogCapture } from "../support/log-capture.ts";
import { waitFor } from "../support/wait.ts";
import { closedPort, lines, postedJobId, runCli, tempDir } from "./cli.ts";

/**
 * The CLI commands that ask a running runner at RUNNER_URL: `agents list` (which ids it
 * registered), `doctor` (are its settings the ones this shell would give?) and `jobs show`
 * (why each agent bid or skipped).
 */
describe("CLI commands that ask the runner at RUNNER_URL", { timeout: 120_000 }, () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  const cleanups: Array<() => Promise<void>> = [];

  beforeEach(async () => {
    dir = await tempDir("bazaar-runner-aware-");
  });
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
    await dir.cleanup();
  });

  /** A real runner with its embedded marketplace, in this process, on free ports. */
  async function runner(env: Record<string, string>): Promise<App> {
    const full = {
      RUNNER_STATE_DIR: join(dir.path, "runner-state"),
      HOST: "127.0.0.1",
      PORT: "0",
      MARKETPLACE_PORT: "0",
      ...env,
    };
    const logs = new LogCapture();
    const app = await startApp({
      config: loadConfig(full),
      logger: createLogger({ level: "info", destination: logs, pretty: false }),
      env: full,
    });
    cleanups.push(() => app.stop());
    await waitFor(
      "three registered agents",
      async () => {
        const status = (await (await fetch(`${app.httpUrl}/api/status`)).json()) as {
          agents: Array<{ agentId: string | null }>;
        };
        return status.agents.filter((a) => a.agentId).length === 3;
      },
      { timeoutMs: 20_000 },
    );
    return app;
  }

  const cli = (args: string[], env: Record<string, string>) =>
    runCli(args, { cwd: dir.path, env: { RUNNER_STATE_DIR: join(dir.path, "cli-state"), ...env } });

  /** A job no built-in agent wants: every agent skips it. */
  async function postPoem(env: Record<string, string>): Promise<string> {
    const args = ["jobs", "post", "--title", "Write a poem", "--description", "About autumn"];
    return postedJobId((await cli([...args, "--budget", "1"], env)).stdout);
  }

  it("agents list shows the ids the runner registered; doctor compares its settings with this shell's", async () => {
    const app = await runner({ AGENT_POLL_INTERVAL: "0.5", AGENT_HEARTBEAT_INTERVAL: "2" });
    const status = (await (await fetch(`${app.httpUrl}/api/status`)).json()) as {
      agents: Array<{ name: string; agentId: string }>;
    };
    const ids = new Map(status.agents.map((a) => [a.name, a.agentId]));

    const listed = await cli(["agents", "list"], { RUNNER_URL: app.httpUrl });
    expect(listed.code, listed.stderr).toBe(0);
    const out = lines(listed.stdout);
    for (const name of ["SchemaArchitect", "AnomalyHunter", "CodeReviewer"]) {
      const row = out.find((l) => l.trim().startsWith(`${name} `));
      expect(row, name).toContain(` ${ids.get(name)} `);
    }
    expect(listed.stdout).toContain(
      `AGENT ID: the marketplace id, from the config or as the runner at ${app.httpUrl} registered it ("-": not registered).`,
    );

    // This shell says 30 s and 60 s (defaults); the runner polls every 0.5 s.
    const differs = await cli(["doctor"], {
      RUNNER_URL: app.httpUrl,
      BAZAAR_API_URL: app.marketplaceUrl,
    });
    const runnerLine = lines(differs.stdout).find((l) => /^\S+\s+runner\s/.test(l)) ?? "";
    expect(runnerLine).toBe(
      `warn  runner          the runner at ${app.httpUrl} runs with other settings than this shell's environment: poll 0.5 s there (AGENT_POLL_INTERVAL from the environment), 30 s here; heartbeat 2 s there (AGENT_HEARTBEAT_INTERVAL from the environment), 60 s here`,
    );
    expect(lines(differs.stdout)[0]).toMatch(/^ok\s+config\s+checked this shell's environment: /);

    const same = await cli(["doctor"], {
      RUNNER_URL: app.httpUrl,
      BAZAAR_API_URL: app.marketplaceUrl,
      AGENT_POLL_INTERVAL: "0.5",
      AGENT_HEARTBEAT_INTERVAL: "2",
    });
    expect(lines(same.stdout).find((l) => /^\S+\s+runner\s/.test(l))).toBe(
      `ok    runner          the runner at ${app.httpUrl} runs with the same settings (poll 0.5 s, heartbeat 2 s, agents from defaults)`,
    );
    // The runner's own earnings figures (GET /api/status): its agents have lost nothing.
    expect(lines(same.stdout).find((l) => /^\S+\s+margin\s/.test(l))).toMatch(
      /^ok\s+margin\s+no agent of the runner at \S+ lost money over the last day \(3 with earnings on record\)$/,
    );
  });

  it("jobs show prints each agent's decision from a server speaking the decisions contract", async () => {
    const market: RunningMarketplace = await startMarketplace({
      host: "127.0.0.1",
      port: 0,
      dbPath: join(dir.path, "market.sqlite"),
    });
    cleanups.push(() => market.close());
    const env = { BAZAAR_API_URL: market.url };
    const jobId = await postPoem(env);

    // A runner's decision log, as GET /api/decisions?job_id= serves it (contracts.md).
    const asked: IncomingMessage[] = [];
    let decisions: unknown[] = [];
    const server: Server = createServer((req, res) => {
      asked.push(req);
      const url = new URL(req.url ?? "/", "http://x");
      if (url.pathname !== "/api/decisions") {
        res.writeHead(404, { "content-type": "application/json" }).end("{}");
        return;
      }
      if (req.headers.authorization !== "Bearer dash-token") {
        res.writeHead(401, { "content-type": "application/json" }).end("{}");
        return;
      }
      const forJob = decisions.filter(
        (d) => (d as { jobId: string }).jobId === url.searchParams.get("job_id"),
      );
      res
        .writeHead(200, { "content-type": "application/json" })
        .end(JSON.stringify({ decisions: forJob }));
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
    const runnerUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const withRunner = { ...env, RUNNER_URL: runnerUrl, DASHBOARD_TOKEN: "dash-token" };

    const none = await cli(["jobs", "show", jobId], withRunner);
    expect(none.code, none.stderr).toBe(0);
    expect(none.stdout).toContain(
      `decisions: none yet from the runner at ${runnerUrl} (its agents decide at its next poll)`,
    );
    const first = asked.at(-1);
    expect(first?.url).toBe(`/api/decisions?job_id=${jobId}`);

    const at = new Date().toISOString();
    decisions = [
      {
        at,
        jobId,
        agent: "SchemaArchitect",
        agentId: "agent_00000001",
        outcome: "skip",
        reason: "no_keyword",
        detail: "no keyword of schema_architect matched",
      },
      {
        at,
        jobId,
        agent: "CodeReviewer",
        agentId: "agent_00000002",
        outcome: "bid",
        reason: null,
        detail: "bid $0.045 at confidence 0.62",
        priceUsd: 0.045,
        confidence: 0.62,
      },
      {
        at,
        jobId: "job_ffffffff",
        agent: "Other",
        agentId: null,
        outcome: "skip",
        reason: "capability",
        detail: "x",
      },
    ];
    const shown = await cli(["jobs", "show", jobId], withRunner);
    expect(shown.code, shown.stderr).toBe(0);
    const out = lines(shown.stdout);
    const from = out.indexOf(`decisions (runner at ${runnerUrl}):`);
    expect(from, shown.stdout).toBeGreaterThan(0);
    expect(out.slice(from + 1, from + 3)).toEqual([
      "  SchemaArchitect  skip  no_keyword: no keyword of schema_architect matched",
      "  CodeReviewer     bid   $0.045  confidence 0.62",
    ]);
    expect(shown.stdout).not.toContain("Other");

    // Without the token the runner refuses, and the line says what to set.
    const refused = await cli(["jobs", "show", jobId], { ...env, RUNNER_URL: runnerUrl });
    expect(refused.code, refused.stderr).toBe(0);
    expect(refused.stdout).toContain(
      `decisions: the runner at ${runnerUrl} wants its DASHBOARD_TOKEN (set it in this shell too)`,
    );

    // Nobody there: it says where it looked.
    const port = await closedPort();
    const nobody = await cli(["jobs", "show", jobId], {
      ...env,
      RUNNER_URL: `http://127.0.0.1:${port}`,
    });
    expect(nobody.code, nobody.stderr).toBe(0);
    expect(nobody.stdout).toContain(
      `decisions: no runner answers at http://127.0.0.1:${port} (RUNNER_URL)`,
    );
  });

  it("jobs show asks the real runner at RUNNER_URL", async () => {
    const app = await runner({ AGENT_POLL_INTERVAL: "0.3" });
    const env = { BAZAAR_API_URL: app.marketplaceUrl, RUNNER_URL: app.httpUrl };
    const jobId = await postPoem(env);
    // A poem matches no agent's keywords: each of the three says so, and why.
    const shown = await waitFor(
      "three decisions in `jobs show`",
      async () => {
        const run = await cli(["jobs", "show", jobId], env);
        expect(run.code, run.stderr).toBe(0);
        return (run.stdout.match(/^ {2}\S+\s+skip\s/gm) ?? []).length === 3
          ? run.stdout
          : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 500 },
    );
    expect(shown).toContain(`decisions (runner at ${app.httpUrl}):`);
    for (const agent of ["SchemaArchitect", "AnomalyHunter", "CodeReviewer"])
      expect(shown).toMatch(new RegExp(`^ {2}${agent}\\s+skip {2}no_keyword: \\S.*$`, "m"));
    expect(shown).toContain("bids (0):");
  });
});
