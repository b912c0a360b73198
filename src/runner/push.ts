/** The path on the runner's port where the marketplace posts webhook notifications. */
export const WEBHOOK_PATH = "/webhooks/agentbazaar";

/** What a notification tells the runner: only a hint, checked against the API before acting. */
export interface WebhookHint {
  event: string;
  agentId: string;
  jobId: string;
}

/** The webhook_url agents register with when PUBLIC_URL is set. */
export function webhookUrl(publicUrl: string | undefined): string | undefined {
  return publicUrl === undefined ? undefined : `${publicUrl}${WEBHOOK_PATH}`;
}

/** Polling stays relaxed while a notification came within this many relaxed intervals. */
const PUSH_ACTIVE_INTERVALS = 10;

/**
 * The wait between polls: AGENT_POLL_INTERVAL, or four times it while notifications
 * arrive (the last one within ten relaxed intervals). Polling is the fallback for a
 * notification that never came.
 */
export function pollIntervalFor(baseMs: number, lastHintAt: number, now: number): number {
  const relaxed = baseMs * 4;
  return now - lastHintAt < PUSH_ACTIVE_INTERVALS * relaxed ? relaxed : baseMs;
}
