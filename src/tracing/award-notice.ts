/**
 * Which way the runner noticed that a job was awarded to one of its agents: a webhook
 * notification (push) or a poll's listing. The hint follower marks the jobs it fetched
 * as assigned; the award span asks once. Bounded: the oldest marks are forgotten.
 */
const MAX_MARKS = 1_000;
const pushed = new Set<string>();

/** A webhook notification said this job is assigned to one of ours, and the runner fetched it. */
export function awardPushed(jobId: string): void {
  if (pushed.size >= MAX_MARKS) {
    const oldest = pushed.values().next().value;
    if (oldest !== undefined) pushed.delete(oldest);
  }
  pushed.add(jobId);
}

/** `push` when a notification brought the award, else `poll`; the mark is used up. */
export function awardNoticedBy(jobId: string): "push" | "poll" {
  return pushed.delete(jobId) ? "push" : "poll";
}
