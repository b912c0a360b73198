import { MongoClient } from "mongodb";
import { ConfigError } from "../config/env.ts";
import { BazaarRunnerError } from "../errors.ts";
import { errorMessage, redactUri, registerUriSecrets } from "../secrets.ts";

export interface ConnectMongoOptions {
  /** How long the driver looks for a server before giving up (here 5 s; the driver's 30 s left users waiting in silence). */
  serverSelectionTimeoutMS?: number;
  /** How long one TCP connection (and its handshake) may take (here 5 s). */
  connectTimeoutMS?: number;
  appName?: string;
}

/** Start-up fails within about 10 s on an unreachable server: selection and connect each get 5 s. */
export const MONGO_CONNECT_TIMEOUT_MS = 5000;

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
      ...timeout(uri, "serverSelectionTimeoutMS", options.serverSelectionTimeoutMS),
      ...timeout(uri, "connectTimeoutMS", options.connectTimeoutMS),
    });
  } catch (error) {
    // No `cause`: the driver's error may carry the raw URI.
    throw new ConfigError(`MongoDB URI ${where} is invalid: ${errorMessage(error)}`);
  }
  try {
    await client.connect();
    await client.db("admin").command({ ping: 1 });
    return client;
  } catch (error) {
    await client.close().catch(() => {});
    throw new BazaarRunnerError(
      "BR_ERR_MONGODB_UNAVAILABLE",
      `MongoDB at ${where} is unreachable: ${errorMessage(error)}`,
    );
  }
}

/**
 * A timeout option for the client: the caller's value, else none when the URI sets it
 * (the driver would let an object option override the user's URI), else 5 s.
 */
function timeout(
  uri: string,
  name: "serverSelectionTimeoutMS" | "connectTimeoutMS",
  value: number | undefined,
): Record<string, number> {
  if (value !== undefined) return { [name]: value };
  const query = uri.split("?")[1] ?? "";
  const inUri = query
    .split("&")
    .some((pair) => pair.split("=")[0]?.toLowerCase() === name.toLowerCase());
  return inUri ? {} : { [name]: MONGO_CONNECT_TIMEOUT_MS };
}
