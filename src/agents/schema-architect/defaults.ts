import type { AgentConfig } from "../types.ts";

export const SCHEMA_ARCHITECT_TYPE = "schema_architect";

/** The built-in SchemaArchitect agent, used when no config source defines agents. */
export const SCHEMA_ARCHITECT_DEFAULTS: Readonly<AgentConfig> = Object.freeze({
  name: "SchemaArchitect",
  agent_type: SCHEMA_ARCHITECT_TYPE,
  description:
    "Designs APIs and data models: OpenAPI 3.1 specifications, GraphQL SDL, gRPC/Protobuf contracts, " +
    "relational DDL and MongoDB document schemas with indexes matched to the access patterns, each " +
    "delivered complete and valid with the rationale for its key decisions and a migration path.",
  managed: true,
  status: "available",
  base_rate_usd: 0.04,
  capabilities: Object.freeze({ schema_design: 0.96, code_review: 0.88, data_extraction: 0.85 }),
  max_concurrent_jobs: 2,
});
