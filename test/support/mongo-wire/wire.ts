import { BSON } from "bson";
import type { Doc } from "./errors.ts";

/** Wire-protocol framing: the message header, OP_MSG, OP_QUERY in and OP_REPLY out. */

export const OP_REPLY = 1;
export const OP_QUERY = 2004;
export const OP_COMPRESSED = 2012;
export const OP_MSG = 2013;

export const MSG_CHECKSUM_PRESENT = 1 << 0;
export const MSG_MORE_TO_COME = 1 << 1;
export const MSG_EXHAUST_ALLOWED = 1 << 16;

const HEADER_SIZE = 16;
/** maxMessageSizeBytes advertised in hello; anything larger is a framing error. */
export const MAX_MESSAGE_SIZE = 48_000_000;
export const MAX_BSON_SIZE = 16 * 1024 * 1024;

const DESERIALIZE: BSON.DeserializeOptions = { promoteLongs: true, promoteValues: true };

export type IncomingMessage =
  | { kind: "msg"; requestId: number; flags: number; command: Doc }
  | { kind: "query"; requestId: number; flags: number; namespace: string; command: Doc }
  | { kind: "unsupported"; requestId: number; opCode: number };

export class WireFormatError extends Error {
  override name = "WireFormatError";
}

/** Splits a TCP byte stream into whole messages. */
export class MessageFramer {
  private buffered: Buffer[] = [];
  private length = 0;

  /** Adds bytes and returns every message now complete (header included). */
  push(chunk: Buffer): Buffer[] {
    this.buffered.push(chunk);
    this.length += chunk.length;
    const frames: Buffer[] = [];
    for (;;) {
      if (this.length < 4) break;
      const head = this.buffered.length === 1 ? this.buffered[0]! : this.flatten();
      const size = head.readInt32LE(0);
      if (size < HEADER_SIZE || size > MAX_MESSAGE_SIZE) {
        throw new WireFormatError(`invalid message length ${size}`);
      }
      if (this.length < size) break;
      const all = this.flatten();
      frames.push(all.subarray(0, size));
      const rest = all.subarray(size);
      this.buffered = rest.length > 0 ? [rest] : [];
      this.length = rest.length;
    }
    return frames;
  }

  private flatten(): Buffer {
    const all = this.buffered.length === 1 ? this.buffered[0]! : Buffer.concat(this.buffered);
    this.buffered = [all];
    return all;
  }
}

function readCString(buf: Buffer, offset: number): { value: string; next: number } {
  const end = buf.indexOf(0, offset);
  if (end < 0) throw new WireFormatError("unterminated cstring");
  return { value: buf.toString("utf8", offset, end), next: end + 1 };
}

function readDocument(buf: Buffer, offset: number): { doc: Doc; next: number } {
  if (offset + 4 > buf.length) throw new WireFormatError("truncated document");
  const size = buf.readInt32LE(offset);
  if (size < 5 || offset + size > buf.length) throw new WireFormatError("bad document length");
  const doc = BSON.deserialize(buf.subarray(offset, offset + size), DESERIALIZE);
  return { doc, next: offset + size };
}

/** Parses one framed message. OP_MSG sections are merged: each kind-1 sequence becomes an array field. */
export function parseMessage(frame: Buffer): IncomingMessage {
  const requestId = frame.readInt32LE(4);
  const opCode = frame.readInt32LE(12);
  if (opCode === OP_MSG) {
    const flags = frame.readUInt32LE(HEADER_SIZE);
    // The checksum (CRC-32C) trails the sections; it is skipped, not verified.
    const end = flags & MSG_CHECKSUM_PRESENT ? frame.length - 4 : frame.length;
    let offset = HEADER_SIZE + 4;
    let body: Doc | undefined;
    const sequences: Record<string, Doc[]> = {};
    while (offset < end) {
      const kind = frame.readUInt8(offset);
      offset += 1;
      if (kind === 0) {
        const { doc, next } = readDocument(frame, offset);
        body = doc;
        offset = next;
      } else if (kind === 1) {
        const size = frame.readInt32LE(offset);
        const sectionEnd = offset + size;
        const id = readCString(frame, offset + 4);
        let cursor = id.next;
        const docs: Doc[] = [];
        while (cursor < sectionEnd) {
          const { doc, next } = readDocument(frame, cursor);
          docs.push(doc);
          cursor = next;
        }
        sequences[id.value] = [...(sequences[id.value] ?? []), ...docs];
        offset = sectionEnd;
      } else {
        throw new WireFormatError(`unknown OP_MSG section kind ${kind}`);
      }
    }
    if (!body) throw new WireFormatError("OP_MSG without a body section");
    return { kind: "msg", requestId, flags, command: { ...body, ...sequences } };
  }
  if (opCode === OP_QUERY) {
    const flags = frame.readInt32LE(HEADER_SIZE);
    const ns = readCString(frame, HEADER_SIZE + 4);
    // numberToSkip and numberToReturn (8 bytes) are meaningless for commands.
    const { doc } = readDocument(frame, ns.next + 8);
    // Old drivers wrap commands sent to mongos as { $query: cmd, $readPreference }.
    const inner = doc.$query;
    const command = inner && typeof inner === "object" ? (inner as Doc) : doc;
    return { kind: "query", requestId, flags, namespace: ns.value, command };
  }
  return { kind: "unsupported", requestId, opCode };
}

function header(length: number, requestId: number, responseTo: number, opCode: number): Buffer {
  const buf = Buffer.alloc(HEADER_SIZE);
  buf.writeInt32LE(length, 0);
  buf.writeInt32LE(requestId, 4);
  buf.writeInt32LE(responseTo, 8);
  buf.writeInt32LE(opCode, 12);
  return buf;
}

function serialize(doc: Doc): Buffer {
  const bytes = BSON.serialize(doc, { ignoreUndefined: true });
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** An OP_MSG reply with one kind-0 body section. */
export function encodeMsg(requestId: number, responseTo: number, doc: Doc, flags = 0): Buffer {
  const body = serialize(doc);
  const prefix = Buffer.alloc(5);
  prefix.writeUInt32LE(flags >>> 0, 0);
  prefix.writeUInt8(0, 4);
  const length = HEADER_SIZE + prefix.length + body.length;
  return Buffer.concat([header(length, requestId, responseTo, OP_MSG), prefix, body]);
}

/** OP_REPLY flag set by servers that support awaitData; real servers always set it. */
const REPLY_AWAIT_CAPABLE = 8;
const REPLY_QUERY_FAILURE = 2;

/** An OP_REPLY carrying one document: the answer to a legacy OP_QUERY command. */
export function encodeReply(
  requestId: number,
  responseTo: number,
  doc: Doc,
  failed = false,
): Buffer {
  const body = serialize(doc);
  const fields = Buffer.alloc(20);
  fields.writeInt32LE(REPLY_AWAIT_CAPABLE | (failed ? REPLY_QUERY_FAILURE : 0), 0);
  fields.writeBigInt64LE(0n, 4); // cursorID
  fields.writeInt32LE(0, 12); // startingFrom
  fields.writeInt32LE(1, 16); // numberReturned
  const length = HEADER_SIZE + fields.length + body.length;
  return Buffer.concat([header(length, requestId, responseTo, OP_REPLY), fields, body]);
}

/** BSON size of a document, for keeping batches under the 16 MiB reply limit. */
export function bsonSize(doc: Doc): number {
  return BSON.calculateObjectSize(doc, { ignoreUndefined: true });
}
