import { join } from "node:path";
import type { MongoClient } from "mongodb";
import type { LedgerCommonOptions } from "./common.ts";
import { openSqliteLedger } from "./sqlite-ledger.ts";
import type { Ledger } from "./types.ts";

export type { JobOutcome, JobOutcomePatch, OutcomeStore } from "./outcomes.ts";
export { openSqliteLedger } from "./sqlite-ledger.ts";
export type {
  BidStore,
  EntryReader,
  ExecutionStore,
  FenceStore,
  Ledger,
  LedgerEntry,
  LedgerResult,
  LedgerSummary,
  OfferAnswerStore,
  OnceNotes,
  PaymentStore,
  SpendStore,
  StakeStore,
  WalletIndexStore,
} from "./types.ts";

export interface OpenLedgerOptions extends LedgerCommonOptions {
  /** RUNNER_STATE_DIR: the sqlite file lives here when there is no MongoDB. */
  stateDir: string;
  /** Set when MONGODB_URI is: the ledger goes to `bazaar.runner_ledger`. */
  mongoClient?: MongoClient;
  /** MONGODB_DB ("bazaar"). */
  mongoDbName?: string;
}

/** The runner's ledger: MongoDB when a client is given, else `${stateDir}/ledger.sqlite`. */
export async function openLedger(options: OpenLedgerOptions): Promise<Ledger> {
  const { stateDir, mongoClient, mongoDbName, ...common } = options;
  // The MongoDB driver is loaded only when a client is given.
  const ledger = mongoClient
    ? await (await import("./mongo-ledger.ts")).openMongoLedger({
        ...common,
        client: mongoClient,
        dbName: mongoDbName,
      })
    : openSqliteLedger({ ...common, path: join(stateDir, "ledger.sqlite") });
  options.logger?.info({ backend: ledger.backend }, "ledger opened");
  return ledger;
}
