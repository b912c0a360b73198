import type { MongoClient } from "mongodb";
import type { RunnerConfig } from "../config/env.ts";
import { InvalidArgumentError } from "../errors.ts";
import type { Logger } from "../logger.ts";
import type { Metrics } from "../metrics.ts";
import { createDefaultsConfigSource } from "./defaults.ts";
import { createFileConfigSource } from "./file.ts";
import type { ConfigSource } from "./types.ts";

export interface ConfigSourceOptions {
  config: RunnerConfig;
  /** Connected client when MONGODB_URI is set. */
  mongoClient?: MongoClient;
  isKnownType: (agentType: string) => boolean;
  logger: Logger;
  metrics?: Metrics;
}

/** MongoDB when MONGODB_URI is set, else AGENTS_FILE when set, else the built-in agents. */
export async function createConfigSource(options: ConfigSourceOptions): Promise<ConfigSource> {
  const { config, logger, metrics, isKnownType } = options;
  if (config.mongodbUri) {
    if (!options.mongoClient)
      throw new InvalidArgumentError("MONGODB_URI is set but no MongoDB client was connected");
    // The MongoDB driver is loaded only when MONGODB_URI is set.
    const { createMongoConfigSource } = await import("./mongo.ts");
    return createMongoConfigSource({
      client: options.mongoClient,
      dbName: config.mongodbDb,
      reloadIntervalMs: config.reloadIntervalMs,
      isKnownType,
      logger,
      metrics,
    });
  }
  if (config.agentsFile) {
    return createFileConfigSource({
      path: config.agentsFile,
      reloadIntervalMs: config.reloadIntervalMs,
      isKnownType,
      logger,
      metrics,
    });
  }
  return createDefaultsConfigSource();
}
