/**
 * Deadlines are generous on purpose: the suite shares a 2-core machine with other work
 * (and with CPU hogs under `npm run test:stress`), where a condition met in 1 s on an
 * idle machine can take 20. A deadline only turns a hang into a failure naming what
 * it waited for; it is never a claim about speed.
 */
export const WAIT_MS = 30_000;
/** For conditions behind a child process start: Node loading the whole runner. */
export const PROCESS_WAIT_MS = 60_000;

/** Polls `check` until it returns a truthy value, or fails after `timeoutMs` naming what it waited for. */
export async function waitFor<T>(
  what: string,
  check: () => T | Promise<T>,
  options: { timeoutMs?: number; intervalMs?: number } = {},
): Promise<NonNullable<T>> {
  const deadline = Date.now() + (options.timeoutMs ?? WAIT_MS);
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value) return value as NonNullable<T>;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) {
      const why = last instanceof Error ? ` (last error: ${last.message})` : "";
      throw new Error(`timed out waiting for ${what}${why}`);
    }
    await new Promise((resolve) => setTimeout(resolve, options.intervalMs ?? 50));
  }
}
