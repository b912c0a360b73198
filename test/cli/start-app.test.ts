import { type AddressInfo, createServer, type Server, type Socket } from "node:net";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { CliError } from "../../src/cli/context.ts";
import { type App, startApp } from "../../src/cli/start.ts";
import { loadConfig } from "../../src/config/env.ts";
import { createLogger } from "../../src/logger.ts";
import {
  isAgentBazaar,
  type RunningMarketplace,
  startMarketplace,
} from "../../src/marketplace-server/index.ts";
import { createMetrics } from "../../src/metrics.ts";
import { LogCapture } from "../support/log-capture.ts";
import { closedPort, tempDir } from "./cli.ts";

/** `startApp()`'s choice of marketplace, on ports other than 8000 (start-e2e owns that one). */
describe("startApp: which marketplace", () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  const cleanups: Array<() => Promise<void>> = [];
  const logs = new LogCapture();
  const logger = createLogger({ level: "info", destination: logs, pretty: false });

  beforeEach(async () => {
    dir = await tempDir("bazaar-start-app-");
    logs.lines.length = 0;
  });
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
    await dir.cleanup();
  });

  const config = (env: Record<string, string> = {}) =>
    loadConfig({
      RUNNER_STATE_DIR: join(dir.path, "state"),
      HOST: "127.0.0.1",
      PORT: "0",
      AGENT_POLL_INTERVAL: "0.3",
      ...env,
    });

  async function launch(options: Parameters<typeof startApp>[0]): Promise<App> {
    const app = await startApp(options);
    cleanups.push(() => app.stop());
    return app;
  }

  /** A plain TCP server on a free port, not AgentBazaar; its sockets die with it. */
  async function squat(onSocket: (socket: Socket) => void = () => {}): Promise<AddressInfo> {
    const sockets = new Set<Socket>();
    const server: Server = createServer((socket) => {
      sockets.add(socket);
      onSocket(socket);
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    cleanups.push(async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    });
    return server.address() as AddressInfo;
  }

  async function market(): Promise<RunningMarketplace> {
    const m = await startMarketplace({ port: 0, dbPath: join(dir.path, "market.sqlite") });
    cleanups.push(() => m.close());
    return m;
  }

  it("with BAZAAR_API_URL set it never starts a marketplace, even on the embedded port", async () => {
    const m = await market();
    const free = await closedPort();
    const app = await launch({
      config: config({ BAZAAR_API_URL: m.url }),
      logger,
      metrics: createMetrics({ processMetrics: false }),
      embeddedMarketplacePort: free,
    });
    expect(app.marketplaceUrl).toBe(m.url);
    expect(await isAgentBazaar(`http://127.0.0.1:${free}`)).toBe(false);
    expect(logs.text()).not.toContain("embedded AgentBazaar marketplace");
  });

  it("unset, and an AgentBazaar already answers on the embedded port: it uses that one", async () => {
    const m = await market();
    const app = await launch({
      config: config(),
      logger,
      metrics: createMetrics({ processMetrics: false }),
      embeddedMarketplacePort: m.port,
    });
    expect(app.marketplaceUrl).toBe(`http://127.0.0.1:${m.port}`);
    expect(logs.entries().map((l) => l.msg)).toContain(
      `BAZAAR_API_URL is unset and an AgentBazaar API already answers on port ${m.port}; using it`,
    );
  });

  it("unset, and the port is taken by something else: one clear error, nothing left running", async () => {
    const address = await squat((socket) => socket.end("HTTP/1.1 418 no\r\n\r\n"));

    const failed = startApp({
      config: config(),
      logger,
      metrics: createMetrics({ processMetrics: false }),
      embeddedMarketplacePort: address.port,
    });
    await expect(failed).rejects.toThrow(CliError);
    await expect(failed).rejects.toThrow(
      `BAZAAR_API_URL is unset and port ${address.port} is taken by something that is not an AgentBazaar API: set BAZAAR_API_URL to your marketplace, or free the port`,
    );
  });

  it("a PORT already in use: one clear error naming PORT, and the embedded marketplace is closed again", async () => {
    const address = await squat();
    const embedded = await closedPort();

    await expect(
      startApp({
        config: config({ PORT: String(address.port) }),
        logger,
        metrics: createMetrics({ processMetrics: false }),
        embeddedMarketplacePort: embedded,
      }),
    ).rejects.toThrow(`cannot listen on 127.0.0.1:${address.port} (PORT)`);
    expect(await isAgentBazaar(`http://127.0.0.1:${embedded}`)).toBe(false);
  });
});
