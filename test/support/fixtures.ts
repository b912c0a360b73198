/** Jobs the tests post: one for each built-in specialty. */

export const SCHEMA_JOB = {
  title: "Design an OpenAPI schema for a REST API",
  description:
    "We need a PostgreSQL database schema and an OpenAPI 3 spec for a bookings REST API with pagination.",
  budget_usd: 1,
  required_capabilities: ["schema_design"],
};

export const ANOMALY_JOB = {
  title: "Find anomalies in our sensor time series",
  description:
    "Detect outliers and anomalies in a time-series of temperature readings; flag seasonal pattern breaks.",
  budget_usd: 1,
  required_capabilities: ["anomaly_detection"],
};
