/**
 * The MongoDB stand-in in a process of its own, as a real server is: a bench that runs
 * the embedded marketplace in its own process would otherwise have the stand-in's work
 * block the marketplace's event loop, and charge the runner for it.
 *
 * As a child (`node bench/support/mongo-child.ts`): starts the wire server, writes
 * `{"uri": ...}` as its first line, answers each `counts` line on stdin with the
 * command counts as one JSON line, and ends when stdin closes.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { mongoTestUri } from "../../test/support/mongo-wire/index.ts";

const COUNTED = ["find", "getMore", "insert", "update", "findAndModify", "aggregate", "delete"];

export interface MongoTarget {
  uri: string;
  /** Commands run so far, by name; undefined against a real server (MONGODB_TEST_URI). */
  counts(): Promise<Record<string, number> | undefined>;
  close(): Promise<void>;
}

/** MONGODB_TEST_URI when set; else the stand-in, started in a child process. */
export async function startMongoTarget(): Promise<MongoTarget> {
  const configured = process.env.MONGODB_TEST_URI;
  if (configured) {
    const target = await mongoTestUri();
    return { uri: target.uri, counts: async () => undefined, close: () => target.close() };
  }
  const child = spawn(process.execPath, [fileURLToPath(import.meta.url)], {
    stdio: ["pipe", "pipe", "inherit"],
  });
  const lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
  const next = async (): Promise<Record<string, unknown>> => {
    const line = await lines.next();
    if (line.done) throw new Error("the MongoDB stand-in's process ended");
    return JSON.parse(line.value) as Record<string, unknown>;
  };
  const { uri } = (await next()) as { uri: string };
  return {
    uri,
    counts: async () => {
      child.stdin!.write("counts\n");
      return (await next()) as Record<string, number>;
    },
    close: () => stop(child),
  };
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise((resolve) => child.once("exit", resolve));
  child.stdin!.end();
  await exited;
}

if (import.meta.main) {
  const target = await mongoTestUri();
  const server = target.server!;
  process.stdout.write(`${JSON.stringify({ uri: target.uri })}\n`);
  const input = createInterface({ input: process.stdin });
  input.on("line", (line) => {
    if (line.trim() !== "counts") return;
    const counts = Object.fromEntries(COUNTED.map((name) => [name, server.commandCount(name)]));
    process.stdout.write(`${JSON.stringify(counts)}\n`);
  });
  input.on("close", () => void target.close().then(() => process.exit(0)));
}
