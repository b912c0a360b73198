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
  ports?: string[];
  depends_on?: Record<string, { condition: string }>;
}

async function compose(): Promise<Record<string, Service>> {
  const text = await readFile(join(ROOT, "compose.yaml"), "utf8");
  // `merge`: the runners share their settings through YAML merge keys (`<<: *runner`).
  return (parse(text, { merge: true }) as { services: Record<string, Service> }).services;
}

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
      for (const port of service.ports ?? []) ports.add(port.split(":")[0] ?? "");
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
