/**
 * How much of one job's text the runner keeps and reads: the bid decision scans this
 * much of a description (`agents/tools/inputs.ts`), and a listed job's strings other
 * than its description are kept up to this length (a longer one makes the job
 * `too_large`). A constant of its own, so the agents' layer can share it without
 * loading the client.
 */
export const JOB_TEXT_CHARS = 64 * 1024;
