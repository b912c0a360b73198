import type { AgentConfig } from "../types.ts";

export const CODE_REVIEWER_TYPE = "code_reviewer";

/** The built-in CodeReviewer agent, used when no config source defines agents. */
export const CODE_REVIEWER_DEFAULTS: Readonly<AgentConfig> = Object.freeze({
  name: "CodeReviewer",
  agent_type: CODE_REVIEWER_TYPE,
  description:
    "Reviews code for security, correctness and performance: injection, XSS, broken access control, " +
    "race conditions, resource leaks, N+1 queries and costly algorithms, with severity-ranked findings " +
    "that cite the lines involved and propose a minimal patch for each.",
  managed: true,
  status: "available",
  base_rate_usd: 0.03,
  capabilities: Object.freeze({ code_review: 0.94, security_analysis: 0.9, code_generation: 0.85 }),
  max_concurrent_jobs: 2,
});
