import { createHash } from "node:crypto";

/** The ids every replica computes for one (agent, job): the trace and its root span. */
export interface JobTraceIds {
  /** 32 lowercase hex digits. */
  traceId: string;
  /** 16 lowercase hex digits: the `bazaar.job` root span every other span of the job hangs from. */
  rootSpanId: string;
}

/**
 * One trace per (agent, job), derived, not stored: SHA-256 of the pair. Every replica,
 * and the same replica after a restart, computes the same ids with no ledger field and
 * no coordination, so spans recorded anywhere join one trace. The ids are not secret
 * (anyone who knows the agent and the job may find its trace); they carry nothing else.
 */
export function jobTraceIds(agentId: string, jobId: string): JobTraceIds {
  const digest = createHash("sha256").update(`bazaar-job\0${agentId}\0${jobId}`).digest("hex");
  // An all-zero id is invalid in OpenTelemetry; a SHA-256 prefix of zeros is no real risk,
  // but the fallback keeps the ids valid whatever the input.
  const traceId = nonZero(digest.slice(0, 32));
  const rootSpanId = nonZero(digest.slice(32, 48));
  return { traceId, rootSpanId };
}

function nonZero(hex: string): string {
  return /^0+$/.test(hex) ? `${hex.slice(0, -1)}1` : hex;
}
