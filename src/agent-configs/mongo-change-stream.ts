import { setTimeout as sleep } from "node:timers/promises";
import {
  type ChangeStream,
  type ChangeStreamDocument,
  type ChangeStreamOptions,
  type Collection,
  MongoServerError,
  type ResumeToken,
} from "mongodb";
import type { Logger } from "../logger.ts";
import { errorMessage } from "../secrets.ts";

export type ChangeStreamState = "opening" | "active" | "retrying" | "unavailable" | "closed";

export interface ChangeStreamWatcherOptions {
  collection: Collection;
  logger: Logger;
  /**
   * A document of the collection was inserted, updated, replaced or deleted, or the
   * collection was invalidated (dropped or renamed): the event itself, to tell which.
   */
  onChange: (change: ChangeStreamDocument) => void;
  /** The stream is open (again): anything missed while it was not should be re-read. */
  onOpened: (reopened: boolean) => void;
  /** The stream broke; called on the first failure of a run of failures. */
  onInterrupted: () => void;
  /** The server has no change streams (a standalone server). */
  onUnavailable: (error: unknown) => void;
  /** Delay before reopening after the n-th consecutive failure (n >= 1). */
  backoffMs: (attempt: number) => number;
  /** How long one getMore waits on the server for events; bounds how long close() may take. */
  maxAwaitTimeMS?: number;
}

export interface ChangeStreamWatcher {
  state(): ChangeStreamState;
  close(): Promise<void>;
}

const DATA_EVENTS = new Set(["insert", "update", "replace", "delete"]);
/** Server codes after which the resume token is useless: start afresh (and re-read). */
const TOKEN_LOST_CODES = new Set([260, 280, 286]);

/** A standalone server answers `$changeStream` with 40573; a server without the stage, 40324. */
export function isChangeStreamUnsupported(error: unknown): boolean {
  if (!(error instanceof MongoServerError)) return false;
  if (error.code === 40573) return true;
  const message = error.message;
  if (/only supported on replica sets/i.test(message)) return true;
  return error.code === 40324 || /unrecognized pipeline stage/i.test(message)
    ? /\$changeStream/.test(message)
    : false;
}

/**
 * Keeps a change stream on the collection open: remembers the last resume token,
 * reopens with it after a backoff whenever the stream fails (the driver already
 * retries resumable errors once; this covers the rest), and stops for good if the
 * server cannot do change streams.
 */
export function startChangeStreamWatcher(options: ChangeStreamWatcherOptions): ChangeStreamWatcher {
  const { collection, logger } = options;
  const abort = new AbortController();
  let state: ChangeStreamState = "opening";
  let current: ChangeStream | undefined;
  let token: ResumeToken | undefined;

  async function run(): Promise<void> {
    let failures = 0;
    let everOpened = false;
    while (!abort.signal.aborted) {
      // No fullDocument lookup: the source re-reads what it needs, and most events (the
      // runner's own write-backs) need nothing beyond their updateDescription.
      const streamOptions: ChangeStreamOptions = {
        maxAwaitTimeMS: options.maxAwaitTimeMS ?? 1000,
      };
      const resuming = token !== undefined;
      if (resuming) streamOptions.resumeAfter = token;
      const stream = collection.watch([], streamOptions);
      current = stream;
      let opened = false;
      try {
        while (!abort.signal.aborted) {
          // tryNext returns null on an empty batch, so the first call tells us the stream is open.
          const change = await stream.tryNext();
          if (abort.signal.aborted) break;
          token = stream.resumeToken ?? token;
          if (!opened) {
            opened = true;
            state = "active";
            if (failures > 0)
              logger.info({ source: "mongo" }, "agent config change stream resumed");
            failures = 0;
            options.onOpened(everOpened);
            everOpened = true;
          }
          if (!change) continue;
          if (DATA_EVENTS.has(change.operationType)) {
            options.onChange(change);
          } else if (change.operationType === "invalidate") {
            // Collection dropped or renamed: this stream is over and its token cannot resume it.
            token = undefined;
            options.onChange(change);
            break;
          }
        }
      } catch (error) {
        if (abort.signal.aborted) break;
        if (isChangeStreamUnsupported(error)) {
          state = "unavailable";
          options.onUnavailable(error);
          break;
        }
        if (
          error instanceof MongoServerError &&
          (TOKEN_LOST_CODES.has(Number(error.code)) || (resuming && !opened))
        ) {
          token = undefined;
        }
        failures += 1;
        state = "retrying";
        if (failures === 1) {
          logger.warn(
            { source: "mongo", problem: errorMessage(error) },
            "agent config change stream interrupted; reopening it",
          );
          options.onInterrupted();
        } else {
          logger.debug(
            { source: "mongo", attempt: failures, problem: errorMessage(error) },
            "agent config change stream still failing",
          );
        }
        await sleep(options.backoffMs(failures), undefined, { signal: abort.signal }).catch(
          () => {},
        );
      } finally {
        current = undefined;
        await stream.close().catch(() => {});
      }
    }
    if (state !== "unavailable") state = "closed";
  }

  const done = run().catch((error: unknown) => {
    // Not expected (run catches what the stream throws), but never an unhandled rejection.
    logger.error(
      { source: "mongo", problem: errorMessage(error) },
      "agent config change stream stopped",
    );
  });

  return {
    state: () => state,
    async close() {
      abort.abort();
      await current?.close().catch(() => {});
      // A getMore in flight ends within maxAwaitTimeMS; a server selection may take longer,
      // so do not wait for the loop beyond a short while.
      await Promise.race([done, sleep(2000, undefined, { ref: false })]);
    },
  };
}
