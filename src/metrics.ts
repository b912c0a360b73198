import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";

/**
 * Every metric of the runner, on one registry per runner instance (so that tests can
 * run several runners in one process). Names are part of the public surface.
 */
export interface Metrics {
  registry: Registry;
  agents: Gauge<"state">;
  heartbeats: Counter<"agent" | "outcome">;
  bids: Counter<"agent" | "outcome">;
  executions: Counter<"agent" | "outcome">;
  resultsSubmitted: Counter<"agent" | "outcome">;
  jobsSeen: Counter<"agent">;
  jobsSkipped: Counter<"reason">;
  marketplaceRequests: Counter<"route" | "status">;
  marketplaceRequestDuration: Histogram<"route">;
  llmTokens: Counter<"model" | "kind">;
  llmRequests: Counter<"model" | "outcome">;
  llmRequestDuration: Histogram<"model">;
  llmCostUsd: Counter<"model">;
  configErrors: Counter<"source">;
  configReloads: Counter<"source" | "outcome">;
  ledgerOperations: Counter<"operation" | "outcome">;
  outboxPending: Gauge;
  unhandledErrors: Counter<"kind">;
  earningsUsd: Counter<"agent" | "stage">;
  /** Spans that never reached the collector (tracing on only): queue full, export failed. */
  traceSpansDropped: Counter<"reason">;
  negotiations: Counter<"agent" | "action">;
  spendCapReached: Gauge<"agent">;
  pollDuration: Histogram;
  webhooks: Counter<"outcome">;
  leasesHeld: Gauge;
  leaseChanges: Counter<"reason">;
  stakeLookups: Counter<"outcome">;
  assignmentsRefused: Counter<"agent" | "reason">;
  agentTampered: Counter<"agent" | "field">;
  /**
   * Per-agent figures over the agent's newest outcome records (runner/telemetry/earnings.ts),
   * brought up to date at each scrape by `agentFigures.refresh`.
   */
  agentWinRate: Gauge<"agent">;
  agentQualityMean: Gauge<"agent">;
  agentQualityPredictionError: Gauge<"agent">;
  agentLlmCostUsd: Gauge<"agent">;
  agentPaidUsd: Gauge<"agent">;
  agentMarginUsd: Gauge<"agent">;
  /** Set by the runner; each scrape of the figure gauges awaits it first. */
  agentFigures: { refresh?: () => Promise<void> };
}

export interface MetricsOptions {
  /** Collect Node's process metrics too (once per registry). */
  processMetrics?: boolean;
  /**
   * Exemplars (tracing on): the registry speaks OpenMetrics, and executions and earnings
   * carry the trace id of the job that last moved them, so a graph links to its trace.
   */
  exemplars?: boolean;
}

/**
 * Increments a counter, with the job's trace id as its exemplar when the counter keeps
 * exemplars (prom-client then takes one object instead of labels and value).
 */
export function incWithTrace<T extends string>(
  counter: Counter<T>,
  labels: Partial<Record<T, string | number>>,
  value: number,
  traceId: string | undefined,
): void {
  if ((counter as { enableExemplars?: boolean }).enableExemplars) {
    counter.inc({
      labels,
      value,
      ...(traceId ? { exemplarLabels: { trace_id: traceId } } : {}),
    } as never);
    return;
  }
  counter.inc(labels, value);
}

export function createMetrics(options: MetricsOptions = {}): Metrics {
  const exemplars = options.exemplars ?? false;
  const registry = new Registry();
  // Exemplars are only in the OpenMetrics exposition (Prometheus asks for it by itself);
  // /metrics sends the registry's own content type.
  if (exemplars) registry.setContentType(Registry.OPENMETRICS_CONTENT_TYPE as never);
  if (options.processMetrics ?? true) collectDefaultMetrics({ register: registry });
  const registers = [registry];
  const agentFigures: Metrics["agentFigures"] = {};
  /** A per-agent figure gauge, read fresh at each scrape (one refresh serves all six). */
  const figure = (name: string, help: string): Gauge<"agent"> =>
    new Gauge({
      name,
      help,
      labelNames: ["agent"],
      registers,
      collect: () => agentFigures.refresh?.(),
    });
  return {
    registry,
    agents: new Gauge({
      name: "bazaar_runner_agents",
      help: "Agents run by this process, by worker state",
      labelNames: ["state"],
      registers,
    }),
    heartbeats: new Counter({
      name: "bazaar_runner_heartbeats_total",
      help: "Heartbeats sent, by agent and outcome",
      labelNames: ["agent", "outcome"],
      registers,
    }),
    bids: new Counter({
      name: "bazaar_runner_bids_total",
      help: "Bid decisions and submissions, by agent and outcome",
      labelNames: ["agent", "outcome"],
      registers,
    }),
    executions: new Counter({
      name: "bazaar_runner_executions_total",
      help: "Job executions, by agent and outcome",
      enableExemplars: exemplars,
      labelNames: ["agent", "outcome"],
      registers,
    }),
    resultsSubmitted: new Counter({
      name: "bazaar_runner_results_submitted_total",
      help: "Result submissions to the marketplace, by agent and outcome",
      labelNames: ["agent", "outcome"],
      registers,
    }),
    jobsSeen: new Counter({
      name: "bazaar_runner_jobs_seen_total",
      help: "Posted jobs considered, by agent",
      labelNames: ["agent"],
      registers,
    }),
    jobsSkipped: new Counter({
      name: "bazaar_runner_jobs_skipped_total",
      help: "Jobs from the marketplace skipped before evaluation, by reason",
      labelNames: ["reason"],
      registers,
    }),
    marketplaceRequests: new Counter({
      name: "bazaar_runner_marketplace_requests_total",
      help: "Requests to the marketplace API, by route and status (or error kind)",
      labelNames: ["route", "status"],
      registers,
    }),
    marketplaceRequestDuration: new Histogram({
      name: "bazaar_runner_marketplace_request_duration_seconds",
      help: "Marketplace API request latency",
      labelNames: ["route"],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    }),
    llmTokens: new Counter({
      name: "bazaar_runner_llm_tokens_total",
      help: "LLM tokens used, by model and kind (input, output)",
      labelNames: ["model", "kind"],
      registers,
    }),
    llmRequests: new Counter({
      name: "bazaar_runner_llm_requests_total",
      help: "LLM completion calls, by model and outcome",
      labelNames: ["model", "outcome"],
      registers,
    }),
    llmRequestDuration: new Histogram({
      name: "bazaar_runner_llm_request_duration_seconds",
      help: "LLM completion latency",
      labelNames: ["model"],
      buckets: [0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 30, 60, 120],
      registers,
    }),
    llmCostUsd: new Counter({
      name: "bazaar_runner_llm_cost_usd_total",
      help: "Estimated LLM cost in USD, by model (from the price table)",
      labelNames: ["model"],
      registers,
    }),
    configErrors: new Counter({
      name: "bazaar_runner_config_errors_total",
      help: "Agent configs rejected by validation, by source",
      labelNames: ["source"],
      registers,
    }),
    configReloads: new Counter({
      name: "bazaar_runner_config_reloads_total",
      help: "Config loads and change events applied, by source and outcome",
      labelNames: ["source", "outcome"],
      registers,
    }),
    ledgerOperations: new Counter({
      name: "bazaar_runner_ledger_operations_total",
      help: "Ledger writes, by operation and outcome",
      labelNames: ["operation", "outcome"],
      registers,
    }),
    outboxPending: new Gauge({
      name: "bazaar_runner_outbox_pending",
      help: "Results produced but not yet accepted by the marketplace",
      registers,
    }),
    unhandledErrors: new Counter({
      name: "bazaar_runner_unhandled_errors_total",
      help: "Unhandled rejections and exceptions caught at the process level",
      labelNames: ["kind"],
      registers,
    }),
    earningsUsd: new Counter({
      name: "bazaar_runner_earnings_usd_total",
      enableExemplars: exemplars,
      help: "USD by agent and stage: bid (prices of bids placed), won (agreed price of jobs assigned), paid (paid out by the marketplace)",
      labelNames: ["agent", "stage"],
      registers,
    }),
    traceSpansDropped: new Counter({
      name: "bazaar_runner_trace_spans_dropped_total",
      help: "Spans dropped before reaching the OTLP collector (tracing on only), by reason: queue_full (the bounded batch queue was full: the collector is down or slow), export_failed",
      labelNames: ["reason"],
      registers,
    }),
    negotiations: new Counter({
      name: "bazaar_runner_negotiations_total",
      help: "Answers to counter-offers, by agent and action (accept, counter, lapse)",
      labelNames: ["agent", "action"],
      registers,
    }),
    spendCapReached: new Gauge({
      name: "bazaar_runner_spend_cap_reached",
      help: "1 while a daily spend cap stops the agent from bidding, else 0 (absent while no cap is set)",
      labelNames: ["agent"],
      registers,
    }),
    pollDuration: new Histogram({
      name: "bazaar_runner_poll_duration_seconds",
      help: "One poll of the shared job feed and its dispatch to every agent",
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    }),
    webhooks: new Counter({
      name: "bazaar_runner_webhooks_total",
      help: "Webhook notifications received, by outcome (accepted, unknown_agent, malformed, rate_limited)",
      labelNames: ["outcome"],
      registers,
    }),
    leasesHeld: new Gauge({
      name: "bazaar_runner_leases_held",
      help: "Agent leases this replica holds (replicas sharing agents through MongoDB)",
      registers,
    }),
    leaseChanges: new Counter({
      name: "bazaar_runner_lease_changes_total",
      help: "Agent leases claimed, released (hand-over, shutdown) and lost, by reason",
      labelNames: ["reason"],
      registers,
    }),
    stakeLookups: new Counter({
      name: "bazaar_runner_stake_lookups_total",
      help: "Jobs looked up one by one because no listing shows them (a bid, a win of ours), by what was found",
      labelNames: ["outcome"],
      registers,
    }),
    assignmentsRefused: new Counter({
      name: "bazaar_runner_assignments_refused_total",
      help: "Jobs assigned to our agents that the runner will not execute (a bid not ours, a price below the floor), by agent and reason",
      labelNames: ["agent", "reason"],
      registers,
    }),
    agentTampered: new Counter({
      name: "bazaar_runner_agent_tampered_total",
      help: "Changes to our agents' marketplace documents the runner did not make (re-registration with their wallet, an unsigned PUT or DELETE), by agent and field; each is put back",
      labelNames: ["agent", "field"],
      registers,
    }),
    agentWinRate: figure(
      "bazaar_runner_agent_win_rate",
      "Bids won / bids decided (won + lost), over the agent's newest 500 outcome records",
    ),
    agentQualityMean: figure(
      "bazaar_runner_agent_quality_mean",
      "Mean of the posters' quality_score, over the agent's newest 500 outcome records",
    ),
    agentQualityPredictionError: figure(
      "bazaar_runner_agent_quality_prediction_error",
      "Mean |predicted quality − poster's quality_score| of the jobs with both, over the agent's newest 500 outcome records",
    ),
    agentLlmCostUsd: figure(
      "bazaar_runner_agent_llm_cost_usd",
      "Estimated LLM cost in USD of the jobs among the agent's newest 500 outcome records",
    ),
    agentPaidUsd: figure(
      "bazaar_runner_agent_paid_usd",
      "USD paid at sign-off for the jobs among the agent's newest 500 outcome records",
    ),
    agentMarginUsd: figure(
      "bazaar_runner_agent_margin_usd",
      "Paid minus LLM cost in USD, over the agent's newest 500 outcome records",
    ),
    agentFigures,
  };
}
