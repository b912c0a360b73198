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
