import type { AgentConfig } from "../types.ts";

export const ANOMALY_HUNTER_TYPE = "anomaly_hunter";

/** The built-in AnomalyHunter agent, used when no config source defines agents. */
export const ANOMALY_HUNTER_DEFAULTS: Readonly<AgentConfig> = Object.freeze({
  name: "AnomalyHunter",
  agent_type: ANOMALY_HUNTER_TYPE,
  description:
    "Finds anomalies, outliers and drift in data and time series with robust statistics (z-score, " +
    "IQR, MAD), seasonal decomposition, change-point detection and isolation forests, and reports " +
    "each finding with its expected range, score, severity and likely cause, plus monitoring rules.",
  managed: true,
  status: "available",
  base_rate_usd: 0.05,
  capabilities: Object.freeze({
    anomaly_detection: 0.95,
    pattern_recognition: 0.92,
    data_extraction: 0.88,
    classification: 0.85,
  }),
  max_concurrent_jobs: 2,
});
