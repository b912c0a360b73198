import { errorMessage, redactUri } from "../../../secrets.ts";
import { type CheckResult, type DoctorCheck, result } from "../types.ts";

/** MongoDB reachable, its managed agents counted, and whether change streams work. */
export const mongodbCheck: DoctorCheck = {
  name: "mongodb",
  async run(state) {
    const { config } = state;
    if (!config.mongodbUri) {
      return [
        result(
          "mongodb",
          "ok",
          config.agentsFile
            ? `not used: agents come from ${config.agentsFile}`
            : "not used: the built-in agents register themselves",
        ),
      ];
    }
    const results: CheckResult[] = [];
    try {
      const { connectMongo } = await import("../../../agent-configs/mongo-connect.ts");
      const mongo = await connectMongo(config.mongodbUri, { serverSelectionTimeoutMS: 5000 });
      try {
        const agents = mongo.db(config.mongodbDb).collection("agents");
        const managed = await agents.countDocuments({ managed: true });
        results.push(
          result(
            "mongodb",
            "ok",
            `${redactUri(config.mongodbUri)} reachable; ${config.mongodbDb}.agents has ${managed} managed agent(s)`,
          ),
        );
        const stream = agents.watch([], { maxAwaitTimeMS: 200 });
        try {
          await stream.tryNext();
          results.push(
            result("change streams", "ok", "available: config changes apply within about a second"),
          );
        } catch (error) {
          results.push(
            result(
              "change streams",
              "warn",
              `unavailable (${errorMessage(error)}); changes apply at the periodic reload every ${config.reloadIntervalMs / 1000} s — run MongoDB as a replica set for instant reloads`,
            ),
          );
        } finally {
          await stream.close().catch(() => undefined);
        }
      } finally {
        await mongo.close();
      }
    } catch (error) {
      state.mongoUnreachable = true;
      results.push(
        result(
          "mongodb",
          "fail",
          `${errorMessage(error)} — check MONGODB_URI, the network and the credentials`,
        ),
      );
    }
    return results;
  },
};
