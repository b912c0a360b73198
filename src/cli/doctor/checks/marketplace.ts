import { MarketplaceClient } from "../../../marketplace/client.ts";
import { errorMessage } from "../../../secrets.ts";
import { type DoctorCheck, result } from "../types.ts";

/** The marketplace answers the AgentBazaar API (or, unset, the embedded one will). */
export const marketplaceCheck: DoctorCheck = {
  name: "marketplace",
  async run({ config, pool }) {
    const client = new MarketplaceClient({
      baseUrl: config.bazaarApiUrl,
      dispatcher: pool,
      maxAttempts: 1,
      timeoutMs: 5000,
    });
    try {
      const agents = await client.listAgents();
      const jobs = await client.listJobs({ status: "posted" });
      return [
        result(
          "marketplace",
          "ok",
          `${config.bazaarApiUrl} answers the AgentBazaar API (${agents.length} agents, ${jobs.jobs.length} posted jobs)`,
        ),
      ];
    } catch (error) {
      if (config.bazaarApiUrlExplicit) {
        return [
          result(
            "marketplace",
            "fail",
            `${errorMessage(error)} — check BAZAAR_API_URL and that the service is up`,
          ),
        ];
      }
      return [
        result(
          "marketplace",
          "warn",
          `nothing answers at ${config.bazaarApiUrl}; \`bazaar-runner start\` will serve the embedded marketplace there`,
        ),
      ];
    }
  },
};
