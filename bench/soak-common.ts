/** What the soak benches share: the jobs they post and the faults they inject. */
import type { FaultRule } from "../src/marketplace-server/index.ts";
import type { LlmFault } from "../test/support/llm-server.ts";

/** Jobs a soak posts: one for each built-in agent type, one for none, one for nobody. */
export const TEMPLATES = [
  {
    title: "Design a GraphQL schema",
    description: "GraphQL schema and PostgreSQL database tables for an orders API with pagination.",
    required_capabilities: ["schema_design"],
  },
  {
    title: "Anomaly detection on metrics",
    description:
      "Find anomalies and outliers in a time series of request latency; seasonal patterns matter.",
    required_capabilities: ["anomaly_detection"],
  },
  {
    title: "Security code review",
    description:
      "Code review of a Python Flask login endpoint: SQL injection, XSS, performance issues.",
    required_capabilities: ["code_review"],
  },
  {
    title: "OpenAPI spec for a REST API",
    description: "Write an OpenAPI 3 spec for a REST API of a library: books, loans, members.",
    required_capabilities: [],
  },
  {
    title: "Plan a wedding",
    description: "Flowers, music and a venue for 80 guests.",
    required_capabilities: [],
  },
];

/** The marketplace faults of the soaks, each at `faultRate`. */
export function marketFaults(faultRate: number): FaultRule[] {
  const rule = (
    route: string,
    fault: FaultRule["fault"],
    extra: Partial<FaultRule> = {},
  ): FaultRule => ({ route, fault, probability: faultRate, ...extra });
  return [
    rule("GET /api/jobs", "error500"),
    rule("GET /api/jobs", "html503"),
    rule("GET /api/jobs", "truncatedJson"),
    rule("GET /api/jobs", "malformedJobs" as FaultRule["fault"]),
    rule("GET /api/jobs/:id/bids", "drop"),
    rule("POST /api/jobs/:id/bids", "error500", { after: true }),
    rule("POST /api/jobs/:id/bids", "drop"),
    rule("POST /api/jobs/:id/submit-result", "error500", { after: true }),
    rule("POST /api/jobs/:id/submit-result", "drop", { after: true }),
    rule("POST /api/jobs/:id/submit-result", "html503"),
    rule("POST /api/agents/:id/heartbeat", "rateLimit", { retryAfterSeconds: 1 }),
    rule("* /api/jobs", "delay", { delayMs: 300 }),
  ];
}
/** The LLM faults of the soaks. */
export const LLM_FAULTS: LlmFault[] = [
  { kind: "429", retryAfterSeconds: 1 },
  { kind: "500" },
  { kind: "malformed-json" },
  { kind: "empty-completion" },
  { kind: "slow", delayMs: 2000 },
];

export const pick = <T>(items: readonly T[]): T => items[Math.floor(Math.random() * items.length)]!;
export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
