import { errorMessage } from "../../../secrets.ts";
import { loadAgentSnapshot } from "../../agents.ts";
import { type CheckLevel, type DoctorCheck, result } from "../types.ts";

/** The agents load from their source, and how many were rejected and why. */
export const agentsCheck: DoctorCheck = {
  name: "agents",
  async run(state) {
    if (state.mongoUnreachable) {
      // Loading the agents would wait out the same server selection timeout again.
      return [
        result("agents", "warn", "not checked: the agents come from MongoDB, which is unreachable"),
      ];
    }
    try {
      const { kind, snapshot } = await loadAgentSnapshot(state.ctx);
      state.agentConfigs = snapshot.agents.map((a) => a.config);
      const level: CheckLevel =
        snapshot.agents.length === 0 ? "fail" : snapshot.issues.length ? "warn" : "ok";
      const rejected = snapshot.issues.length
        ? `; rejected: ${snapshot.issues.map((i) => `${i.ref}: ${i.message}`).join("; ")}`
        : "";
      const nothing = snapshot.agents.length === 0 ? " — nothing to run" : "";
      return [
        result(
          "agents",
          level,
          `${snapshot.agents.length} agent(s) from ${kind}${rejected}${nothing}`,
        ),
      ];
    } catch (error) {
      return [result("agents", "fail", errorMessage(error))];
    }
  },
};
