import { readFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { loadConfig } from "../src/config/env.ts";
import { tempDir } from "./cli/cli.ts";
import { RunnerProcess } from "./support/runner-process.ts";

const ROOT = resolve(import.meta.dirname, "..");

interface Service {
  build?: string;
  image?: string;
  command?: string[];
  environment?: Record<string, string>;
  ports?: Array<string | { host_ip?: string; published?: string | number; target?: number }>;
  depends_on?: Record<string, { condition: string }>;
}

async function compose(): Promise<Record<string, Service>> {
  const text = await readFile(join(ROOT, "compose.yaml"), "utf8");
  // `merge`: the runners share their settings through YAML merge keys (`<<: *runner`).
  return (parse(text, { merge: true }) as { services: Record<string, Service> }).services;
}

/**
 * A `ports` entry's host address and port: `"8080"`, `"8081:8080"`,
 * `"127.0.0.1:8081:8080"`, `"[::1]:8081:8080"` or the long form's `host_ip`/`published`.
 * No address means every interface of the host.
 */
function published(entry: NonNullable<Service["ports"]>[number]): {
  hostIp: string;
  hostPort: string;
} {
  if (typeof entry !== "string") {
    return { hostIp: entry.host_ip ?? "", hostPort: String(entry.published ?? "") };
  }
  const match = /^(?:(\[[^\]]+\]|[^:]+):)?(?:([^:]+):)?([^:]+)$/.exec(entry.split("/")[0] ?? "");
  if (!match) return { hostIp: "", hostPort: "" };
  const [, first, second, target] = match;
  // Two parts are host port and container port; three add the address first.
  if (second === undefined) return { hostIp: "", hostPort: first ?? target ?? "" };
  return { hostIp: (first ?? "").replace(/^\[|\]$/g, ""), hostPort: second };
}

const LOOPBACK = new Set(["127.0.0.1", "::1", "localhost"]);

/** What the Dockerfile's last stage copies into the image (its COPY destinations). */
async function imagePaths(): Promise<string[]> {
  const dockerfile = await readFile(join(ROOT, "Dockerfile"), "utf8");
  const runtime = dockerfile.slice(dockerfile.lastIndexOf("\nFROM "));
  return [...runtime.matchAll(/^COPY\s+(?:--\S+\s+)*\S+\s+(\S+)$/gm)]
    .map((m) => (m[1] ?? "").replace(/^\.\/?/, ""))
    .filter(Boolean);
}

/**
 * compose.yaml, checked without Docker (none on the machines that run this suite): the
 * three runners are replicas of one MongoDB-backed set of agents, every command runs a
 * file the image holds, and the marketplace service's command serves the marketplace.
 */
describe("compose.yaml", { timeout: 120_000 }, () => {
  const processes: RunnerProcess[] = [];
  afterEach(() => {
    for (const p of processes.splice(0)) p.signal("SIGKILL");
  });

  it("runs three runner replicas on MongoDB as a one-member replica set", async () => {
    const services = await compose();
    const runners = Object.entries(services).filter(([name]) => name.startsWith("runner-"));
    expect(runners).toHaveLength(3);
    expect(services.mongo?.command).toEqual(expect.arrayContaining(["--replSet", "rs0"]));
    const ids = new Set<string>();
    const ports = new Set<string>();
    for (const [name, service] of runners) {
      const env = service.environment ?? {};
      // Every variable is one the runner accepts, with MongoDB (leases) configured.
      const config = loadConfig({ ...env, FIREWORKS_API_KEY: "" });
      expect(config.mongodbUri, name).toMatch(/replicaSet=rs0/);
      expect(config.bazaarApiUrl, name).toBe("http://marketplace:8000");
      ids.add(config.replicaId);
      for (const port of service.ports ?? []) ports.add(published(port).hostPort);
      expect(Object.keys(service.depends_on ?? {}).sort(), name).toEqual([
        "marketplace",
        "mongo",
        "seed",
      ]);
      expect(service.build, name).toBe(".");
    }
    expect(ids.size).toBe(3); // a distinct RUNNER_REPLICA_ID each
    expect(ports.size).toBe(3);
    for (const [name, service] of Object.entries(services))
      for (const dependency of Object.keys(service.depends_on ?? {}))
        expect(Object.keys(services), `${name} depends on ${dependency}`).toContain(dependency);
  });

  it("publishes no port beyond the host's loopback unless its dashboard needs a token", async () => {
    // Issue 28: the dashboards (no DASHBOARD_TOKEN) and the marketplace (no login at
    // all) were published on every interface of the host.
    const services = await compose();
    const entries = Object.entries(services).flatMap(([name, service]) =>
      (service.ports ?? []).map((entry) => ({ name, service, ...published(entry) })),
    );
    expect(entries.map((p) => p.name).sort()).toEqual([
      "marketplace",
      "runner-1",
      "runner-2",
      "runner-3",
    ]);
    for (const { name, service, hostIp, hostPort } of entries) {
      const guarded = name.startsWith("runner-") && Boolean(service.environment?.DASHBOARD_TOKEN);
      expect(LOOPBACK.has(hostIp) || guarded, `${name} publishes ${hostPort} on "${hostIp}"`).toBe(
        true,
      );
    }
  });

  it("reads each form of a ports entry", () => {
    expect(published("8080")).toEqual({ hostIp: "", hostPort: "8080" });
    expect(published("8081:8080")).toEqual({ hostIp: "", hostPort: "8081" });
    expect(published("0.0.0.0:8081:8080")).toEqual({ hostIp: "0.0.0.0", hostPort: "8081" });
    expect(published("127.0.0.1:8081:8080/tcp")).toEqual({
      hostIp: "127.0.0.1",
      hostPort: "8081",
    });
    expect(published("[::1]:8081:8080")).toEqual({ hostIp: "::1", hostPort: "8081" });
    expect(published({ host_ip: "127.0.0.1", published: 8081, target: 8080 })).toEqual({
      hostIp: "127.0.0.1",
      hostPort: "8081",
    });
  });

  it("runs, in each service built from the Dockerfile, a file the image holds", async () => {
    const services = await compose();
    const copied = await imagePaths();
    for (const [name, service] of Object.entries(services)) {
      if (service.build === undefined || service.command === undefined) continue;
      const [program, script] = service.command;
      expect(program, name).toBe("node");
      expect(
        copied.some((path) => script?.startsWith(`${path.replace(/\/$/, "")}/`)),
        `${name} runs ${script}, which the image (${copied.join(", ")}) does not hold`,
      ).toBe(true);
    }
  });

  it("the marketplace service's command serves the embedded marketplace", async () => {
    const services = await compose();
    const command = services.marketplace?.command ?? [];
    expect(command.slice(0, 3)).toEqual(["node", "dist/cli/main.js", "marketplace"]);
    const dir = await tempDir("bazaar-compose-");
    try {
      // The same subcommand and options (sources, not dist/; any free port; a temp db).
      const args = command.slice(2).map((arg, i, all) => {
        if (all[i - 1] === "--port") return "0";
        if (all[i - 1] === "--db") return join(dir.path, "marketplace.sqlite");
        return arg;
      });
      const market = new RunnerProcess({ LOG_LEVEL: "info" }, args, { cwd: dir.path });
      processes.push(market);
      const listening = await market.waitForLog(
        "the marketplace listening",
        (l) => l.msg === "embedded AgentBazaar marketplace listening",
        60_000,
      );
      expect(listening).toMatchObject({ autoAwardSeconds: 20 });
      const url = String(listening.url).replace("0.0.0.0", "127.0.0.1");
      const root = (await (await fetch(url)).json()) as Record<string, unknown>;
      expect(root).toMatchObject({ embedded: true, status: "operational" });
    } finally {
      await dir.cleanup();
    }
  });
});
