import { DatabaseSync, type SQLInputValue } from "node:sqlite";
import type { Counter } from "prom-client";
import type { Runner } from "../../src/runner/runner.ts";
import { api } from "./runner-harness.ts";
import { WAIT_MS, waitFor } from "./wait.ts";

/** Helpers for runner-level tests: the marketplace as a poster sees it, and metrics. */

export interface ApiBid {
  bid_id: string;
  agent_id: string;
  price_usd: number;
  status: string;
}

export interface ApiJob {
  job_id: string;
  status: string;
  description: string;
  bids: ApiBid[];
  result: {
    success: boolean;
    output: string;
    executed_by: string;
    model: string;
    tokens_used: number;
  } | null;
}

export async function getJob(baseUrl: string, jobId: string): Promise<ApiJob> {
  const { status, body } = await api<ApiJob>(baseUrl, "GET", `/api/jobs/${jobId}`);
  if (status !== 200) throw new Error(`GET /api/jobs/${jobId} answered ${status}`);
  return body;
}

/** Waits for a bid on the job (by the given agent, when named). */
export function waitForBid(baseUrl: string, jobId: string, agentId?: string): Promise<ApiBid> {
  return waitFor(`a bid on ${jobId}`, async () =>
    (await getJob(baseUrl, jobId)).bids.find(
      (b) => agentId === undefined || b.agent_id === agentId,
    ),
  );
}

export async function award(baseUrl: string, jobId: string, bidId: string): Promise<void> {
  const { status, body } = await api(baseUrl, "POST", `/api/jobs/${jobId}/select-bid/${bidId}`);
  if (status !== 200) throw new Error(`select-bid answered ${status}: ${JSON.stringify(body)}`);
}

/** Waits until the job reaches `completed` or `failed`, and returns it. */
export function waitForResult(
  baseUrl: string,
  jobId: string,
  timeoutMs = WAIT_MS,
): Promise<ApiJob> {
  return waitFor(
    `a result for ${jobId}`,
    async () => {
      const job = await getJob(baseUrl, jobId);
      return job.status === "completed" || job.status === "failed" ? job : undefined;
    },
    { timeoutMs },
  );
}

/** The running workers' marketplace ids by agent name, once `count` of them run. */
export function runningAgents(runner: Runner, count: number): Promise<Record<string, string>> {
  return waitFor(`${count} agents registered and running`, () => {
    const running = runner.workers.filter((w) => w.state === "running" && w.agentId);
    if (running.length < count) return undefined;
    return Object.fromEntries(running.map((w) => [w.spec.config.name, w.agentId!]));
  });
}

/** Sum of a counter's values whose labels include all of `labels`. */
export async function counterSum<T extends string>(
  counter: Counter<T>,
  labels: Partial<Record<T, string>> = {},
): Promise<number> {
  const { values } = await counter.get();
  return values
    .filter((v) =>
      Object.entries(labels).every(
        ([key, value]) => String((v.labels as Record<string, unknown>)[key]) === value,
      ),
    )
    .reduce((sum, v) => sum + v.value, 0);
}

/**
 * Rewrites columns of a job in the embedded marketplace's SQLite file, for jobs the
 * API would refuse (a negative budget, a fractional deadline, a huge description).
 */
export function updateMarketJob(
  dbPath: string,
  jobId: string,
  fields: Record<string, SQLInputValue>,
): void {
  const db = new DatabaseSync(dbPath, { timeout: 5000 });
  try {
    const columns = Object.keys(fields);
    const set = columns.map((c) => `${c} = ?`).join(", ");
    const result = db
      .prepare(`UPDATE jobs SET ${set} WHERE job_id = ?`)
      .run(...columns.map((c) => fields[c]!), jobId);
    if (result.changes !== 1) throw new Error(`no job ${jobId} in ${dbPath}`);
  } finally {
    db.close();
  }
}

/**
 * Waits until `n` more polls have been dispatched to the agents, for checks that
 * something did not happen: each of those polls had its chance to do it, however
 * slow the machine.
 */
export async function pollsPass(runner: Runner, n: number): Promise<void> {
  const polls = async () => {
    const { values } = await runner.metrics.pollDuration.get();
    return values.find((v) => v.metricName?.endsWith("_count"))?.value ?? 0;
  };
  const target = (await polls()) + n;
  await waitFor(`${n} more polls`, async () => (await polls()) >= target);
}
