import { createServer, type Server, type Socket } from "node:net";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { connectMongo, MONGO_CONNECT_TIMEOUT_MS } from "../../src/agent-configs/mongo-connect.ts";

/** A TCP server that accepts and never answers: MongoDB "reachable" but silent. */
describe("connectMongo timeouts", () => {
  let server: Server;
  let port: number;
  const sockets = new Set<Socket>();

  beforeEach(async () => {
    server = createServer((socket) => sockets.add(socket));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    port = (server.address() as { port: number }).port;
  });
  afterEach(async () => {
    for (const socket of sockets) socket.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it("gives up after its own 5 s, with the reason and the password redacted", async () => {
    expect(MONGO_CONNECT_TIMEOUT_MS).toBeLessThanOrEqual(5000);
    const error = await connectMongo(`mongodb://u:pw-secret@127.0.0.1:${port}/`).then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(error?.message).toBe(
      `MongoDB at mongodb://u:[REDACTED]@127.0.0.1:${port}/ is unreachable: Server selection timed out after ${MONGO_CONNECT_TIMEOUT_MS} ms`,
    );
  });

  it("a timeout in the URI wins over the default", async () => {
    const error = await connectMongo(
      `mongodb://127.0.0.1:${port}/?serverSelectionTimeoutMS=300&connectTimeoutMS=200`,
    ).then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    // The URI's timeouts end the attempt, not the 5 s default: which of the two fires first
    // (the 200 ms connect or the 300 ms selection) depends on how busy the machine is.
    expect(error?.message).toMatch(
      /is unreachable: (connection <monitor> to 127\.0\.0\.1:\d+ timed out|Server selection timed out after 300 ms)$/,
    );
  });
});
