import { readFileSync } from "node:fs";
import { join } from "node:path";
import { MongoClient } from "mongodb";
import { uniqueDbName } from "../../test/support/mongo-wire/index.ts";
import { writeAgentsFile } from "./market.ts";
import { type MongoTarget, startMongoTarget } from "./mongo-child.ts";

/**
 * A bench runner's agents: `n` of them in `AGENTS_FILE`, or (`mongo`) the same documents
 * in `bazaar.agents` of a fresh database on a MongoDB stand-in of its own, where the
 * ledger then goes too. The caller closes `mongo` when the run ends.
 */
export async function benchAgents(
  source: "file" | "mongo",
  dir: string,
  n: number,
  dbPrefix: string,
): Promise<{ env: Record<string, string>; mongo?: MongoTarget }> {
  const file = join(dir, "agents.json");
  writeAgentsFile(file, n);
  if (source === "file") return { env: { AGENTS_FILE: file } };
  const mongo = await startMongoTarget();
  const db = uniqueDbName(dbPrefix);
  const client = new MongoClient(mongo.uri);
  const docs = JSON.parse(readFileSync(file, "utf8")) as object[];
  await client
    .db(db)
    .collection("agents")
    .insertMany(docs.map((d) => ({ ...d, managed: true })));
  await client.close();
  return { env: { MONGODB_URI: mongo.uri, MONGODB_DB: db }, mongo };
}
