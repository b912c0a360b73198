import { createServer, type Server, type Socket } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { Binary, Long, ObjectId } from "bson";
import { adminCommands, helloReply } from "./admin.ts";
import { ChangeLog, ClusterClock } from "./change-log.ts";
import type { CommandHandler, ServerState } from "./context.ts";
import { crudCommands } from "./crud.ts";
import { CursorRegistry } from "./cursors.ts";
import { cloneDoc, isPlainObject, valueKey } from "./docs.ts";
import { asCommandError, CommandError, type Doc, ErrorCode } from "./errors.ts";
import { Store } from "./store.ts";
import {
  encodeMsg,
  encodeReply,
  MessageFramer,
  MSG_EXHAUST_ALLOWED,
  MSG_MORE_TO_COME,
  parseMessage,
} from "./wire.ts";

const HANDLERS: Record<string, CommandHandler> = { ...adminCommands, ...crudCommands };
const HELLO_COMMANDS = new Set(["hello", "isMaster", "ismaster"]);
/** Writes a retried request (same lsid and txnNumber) must not apply twice. */
const RETRYABLE_WRITES = new Set(["insert", "update", "delete", "findAndModify", "findandmodify"]);
const HOST = "127.0.0.1";

export interface MongoWireServerOptions {
  /** Default true. False: a standalone server (no setName; `$changeStream` answers error 40573). */
  changeStreams?: boolean;
  /** Replica set name reported by hello; default "rs0". */
  setName?: string;
  /** Change events kept for resuming; older tokens answer 286 ChangeStreamHistoryLost. Default 10000. */
  historyLimit?: number;
}

let responseIds = 1;

class WireConnection {
  readonly id: number;
  private readonly framer = new MessageFramer();
  private readonly abort = new AbortController();
  private queue: Promise<void> = Promise.resolve();
  private readonly socket: Socket;
  private readonly server: MongoWireServer;

  constructor(server: MongoWireServer, socket: Socket, id: number) {
    this.server = server;
    this.socket = socket;
    this.id = id;
    socket.setNoDelay(true);
    socket.on("data", (chunk: Buffer) => this.receive(chunk));
    socket.on("error", () => socket.destroy());
    socket.on("close", () => this.abort.abort());
  }

  get signal(): AbortSignal {
    return this.abort.signal;
  }

  /** Destroys the socket; resolves when it has closed. */
  destroy(): Promise<void> {
    this.abort.abort();
    if (this.socket.closed) return Promise.resolve();
    const closed = new Promise<void>((resolve) => this.socket.once("close", () => resolve()));
    this.socket.destroy();
    return closed;
  }

  private receive(chunk: Buffer): void {
    let frames: Buffer[];
    try {
      frames = this.framer.push(chunk);
    } catch {
      void this.destroy();
      return;
    }
    for (const frame of frames) {
      // One request at a time per connection, in order, as mongod does.
      this.queue = this.queue.then(() => this.handle(frame)).catch(() => void this.destroy());
    }
  }

  private send(bytes: Buffer): void {
    if (!this.socket.destroyed && this.socket.writable) this.socket.write(bytes);
  }

  private async handle(frame: Buffer): Promise<void> {
    if (this.signal.aborted) return;
    const message = parseMessage(frame);
    if (message.kind === "unsupported") {
      // A real server drops connections that speak removed or unknown opcodes.
      void this.destroy();
      return;
    }
    if (message.kind === "query") {
      const reply = await this.queryCommand(message.namespace, message.command);
      this.send(encodeReply(responseIds++, message.requestId, reply));
      return;
    }
    const { command, flags, requestId } = message;
    const db = typeof command.$db === "string" ? command.$db : "admin";
    const name = Object.keys(command)[0] ?? "";
    if (HELLO_COMMANDS.has(name) && isPlainObject(command.topologyVersion)) {
      await this.awaitableHello(command, name !== "hello", requestId, flags);
      return;
    }
    const reply = await this.server.runCommand(db, command, this.id, this.signal);
    // moreToCome from the client: an unacknowledged write, no answer expected.
    if (flags & MSG_MORE_TO_COME) return;
    this.send(encodeMsg(responseIds++, requestId, reply));
  }

  /** Legacy OP_QUERY: only the handshake may use it, as on MongoDB 6+. */
  private async queryCommand(namespace: string, command: Doc): Promise<Doc> {
    const name = Object.keys(command)[0] ?? "";
    if (!namespace.endsWith(".$cmd") || !HELLO_COMMANDS.has(name)) {
      return new CommandError(
        352,
        `Unsupported OP_QUERY command: ${name}. The client driver may require an upgrade.`,
      ).toReply();
    }
    return this.server.runCommand(namespace.slice(0, -5), command, this.id, this.signal);
  }

  /**
   * The streaming monitor's hello: wait maxAwaitTimeMS when the client's topologyVersion is
   * current, answer, and with exhaustAllowed keep answering (moreToCome) until the socket closes.
   */
  private async awaitableHello(
    command: Doc,
    legacy: boolean,
    requestId: number,
    flags: number,
  ): Promise<void> {
    const state = this.server.state;
    const waitMs = typeof command.maxAwaitTimeMS === "number" ? command.maxAwaitTimeMS : 10_000;
    const known = command.topologyVersion as Doc;
    const current = known.processId instanceof ObjectId && known.processId.equals(state.processId);
    const exhaust = (flags & MSG_EXHAUST_ALLOWED) !== 0;
    let responseTo = requestId;
    let wait = current;
    for (;;) {
      if (wait) await sleep(waitMs, undefined, { signal: this.signal }).catch(() => undefined);
      if (this.signal.aborted) return;
      const reply = this.server.withClusterTime(helloReply(state, this.id, legacy));
      const id = responseIds++;
      this.send(encodeMsg(id, responseTo, reply, exhaust ? MSG_MORE_TO_COME : 0));
      if (!exhaust) return;
      responseTo = id;
      wait = true;
    }
  }
}

/**
 * A MongoDB stand-in on loopback that the official driver talks to over TCP: a one-member
 * replica set primary (or a standalone server) holding its data in memory.
 */
export class MongoWireServer {
  readonly state: ServerState;
  private listener: Server | undefined;
  private readonly connections = new Set<WireConnection>();
  private readonly retried = new Map<string, { txnNumber: string; reply: Doc }>();
  private readonly counts = new Map<string, number>();
  private closed = false;
  private boundPort = 0;

  constructor(options: MongoWireServerOptions = {}) {
    this.state = {
      store: new Store(),
      log: new ChangeLog(options.historyLimit ?? 10_000),
      clock: new ClusterClock(),
      cursors: new CursorRegistry(),
      replicaSet: options.changeStreams !== false,
      setName: options.setName ?? "rs0",
      host: HOST,
      processId: new ObjectId(),
      startedAt: Date.now(),
      connectionsOpen: 0,
      connectionsCreated: 0,
    };
  }

  get port(): number {
    return this.boundPort;
  }

  /** A direct connection: works for change streams, sessions and retryable writes. */
  get uri(): string {
    return `mongodb://${HOST}:${this.boundPort}/?directConnection=true`;
  }

  /** The same server addressed as a replica set (hello lists this host under `setName`). */
  get replicaSetUri(): string {
    if (!this.state.replicaSet) throw new Error("a standalone wire server has no replica set URI");
    return `mongodb://${HOST}:${this.boundPort}/?replicaSet=${this.state.setName}`;
  }

  /** Open client connections (monitoring connections included). */
  get connectionCount(): number {
    return this.connections.size;
  }

  /** How many times a command (e.g. "find", "getMore", "aggregate") has been run. */
  commandCount(name: string): number {
    return this.counts.get(name) ?? 0;
  }

  /** Listens (again): on restart, the same port and data, fresh cursors and processId. */
  async start(): Promise<void> {
    if (this.closed) throw new Error("the wire server was closed");
    if (this.listener) return;
    this.state.processId = new ObjectId();
    this.state.startedAt = Date.now();
    const listener = createServer((socket) => this.accept(socket));
    for (let attempt = 0; ; attempt++) {
      try {
        await new Promise<void>((resolve, reject) => {
          listener.once("error", reject);
          listener.listen({ host: HOST, port: this.boundPort }, () => {
            listener.off("error", reject);
            resolve();
          });
        });
        break;
      } catch (error) {
        const code = (error as { code?: unknown }).code;
        if (code !== "EADDRINUSE" || this.boundPort === 0 || attempt >= 50) throw error;
        await sleep(100);
      }
    }
    const address = listener.address();
    if (address === null || typeof address === "string") throw new Error("no TCP address");
    this.boundPort = address.port;
    this.state.host = `${HOST}:${this.boundPort}`;
    this.listener = listener;
  }

  /** MongoDB goes away: stops listening and cuts every connection. Data and history survive. */
  async stop(): Promise<void> {
    const listener = this.listener;
    this.listener = undefined;
    const closed = listener
      ? new Promise<void>((resolve) => listener.close(() => resolve()))
      : Promise.resolve();
    await this.dropAllConnections();
    // A restarted mongod has no open cursors.
    this.state.cursors.clear();
    this.state.log.wakeAll();
    await closed;
  }

  /** Cuts every client connection but keeps listening (a network blip); resolves once closed. */
  dropAllConnections(): Promise<void> {
    const closing = [...this.connections].map((connection) => connection.destroy());
    this.connections.clear();
    this.state.connectionsOpen = 0;
    return Promise.all(closing).then(() => undefined);
  }

  /** Stops for good. */
  async close(): Promise<void> {
    await this.stop();
    this.closed = true;
  }

  /** A copy of a collection's documents in natural order, for assertions. */
  collection(db: string, name: string): Doc[] {
    return (this.state.store.get(db, name)?.all() ?? []).map((doc) => cloneDoc(doc));
  }

  private accept(socket: Socket): void {
    if (!this.listener) {
      socket.destroy();
      return;
    }
    this.state.connectionsCreated += 1;
    const connection = new WireConnection(this, socket, this.state.connectionsCreated);
    this.connections.add(connection);
    this.state.connectionsOpen = this.connections.size;
    socket.on("close", () => {
      this.connections.delete(connection);
      this.state.connectionsOpen = this.connections.size;
    });
  }

  /** Runs one command and returns its reply document (errors included, never thrown). */
  async runCommand(db: string, body: Doc, connectionId: number, signal: AbortSignal): Promise<Doc> {
    const name = Object.keys(body)[0] ?? "";
    this.counts.set(name, (this.counts.get(name) ?? 0) + 1);
    const retryKey = this.retryKey(name, body);
    const cached = retryKey ? this.retried.get(retryKey.session) : undefined;
    if (retryKey && cached?.txnNumber === retryKey.txnNumber) return cached.reply;
    let reply: Doc;
    try {
      const handler = Object.hasOwn(HANDLERS, name) ? HANDLERS[name] : undefined;
      if (!handler) throw new CommandError(ErrorCode.CommandNotFound, `no such command: '${name}'`);
      reply = await handler({ state: this.state, db, name, body, connectionId, signal });
    } catch (error) {
      reply = asCommandError(error, ErrorCode.InternalError).toReply();
    }
    reply = this.withClusterTime(reply);
    if (retryKey) {
      if (this.retried.size > 10_000) this.retried.clear();
      this.retried.set(retryKey.session, { txnNumber: retryKey.txnNumber, reply });
    }
    return reply;
  }

  /** Replica set members gossip the cluster time on every reply; standalone servers do not. */
  withClusterTime(reply: Doc): Doc {
    if (!this.state.replicaSet) return reply;
    const clusterTime = this.state.clock.now();
    return {
      ...reply,
      $clusterTime: {
        clusterTime,
        signature: { hash: new Binary(Buffer.alloc(20), 0), keyId: Long.fromNumber(0) },
      },
      operationTime: clusterTime,
    };
  }

  private retryKey(name: string, body: Doc): { session: string; txnNumber: string } | undefined {
    if (!RETRYABLE_WRITES.has(name) || body.txnNumber === undefined || body.lsid === undefined) {
      return undefined;
    }
    if (body.autocommit === false) return undefined;
    return { session: valueKey(body.lsid), txnNumber: valueKey(body.txnNumber) };
  }
}

export async function startMongoWireServer(
  options: MongoWireServerOptions = {},
): Promise<MongoWireServer> {
  const server = new MongoWireServer(options);
  await server.start();
  return server;
}
