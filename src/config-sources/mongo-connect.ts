import { MongoClient } from "mongodb";
import { errorMessage, redactUri, registerUriSecrets } from "../secrets.ts";

export interface ConnectMongoOptions {
  /** How long the driver looks for a server before giving up (driver default: 30 s). */
  serverSelectionTimeoutMS?: number;
  appName?: string;
}

/**
 * Connects and pings, so that start-up fails here, with the URI's password redacted,
 * rather than later with an unknown set of agents. The caller owns (and closes) the client.
 */
export async function connectMongo(
  uri: string,
  options: ConnectMongoOptions = {},
): Promise<MongoClient> {
  registerUriSecrets(uri);
  const where = redactUri(uri);
  let client: MongoClient;
  try {
    client = new MongoClient(uri, {
      appName: options.appName ?? "bazaar-runner",
      ...(options.serverSelectionTimeoutMS === undefined
        ? {}
        : { serverSelectionTimeoutMS: options.serverSelectionTimeoutMS }),
    });
  } catch (error) {
    // No `cause`: the driver's error may carry the raw URI.
    throw new Error(`MongoDB URI ${where} is invalid: ${errorMessage(error)}`);
  }
  try {
    await client.connect();
    await client.db("admin").command({ ping: 1 });
    return client;
  } catch (error) {
    await client.close().catch(() => {});
    throw new Error(`MongoDB at ${where} is unreachable: ${errorMessage(error)}`);
  }
}
