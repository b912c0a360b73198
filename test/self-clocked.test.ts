import { afterEach, describe, expect, it, vi } from "vitest";
import { SelfClockedBatch } from "../src/self-clocked.ts";

/** A batch call whose answers the test releases by hand, recording every batch. */
function controlled() {
  const batches: number[][] = [];
  const releases: Array<(fail?: Error) => void> = [];
  const run = (keys: number[]) =>
    new Promise<string[]>((resolve, reject) => {
      batches.push(keys);
      releases.push((fail) => (fail ? reject(fail) : resolve(keys.map((k) => `v${k}`))));
    });
  return { batches, releases, run };
}

const turn = () => new Promise((resolve) => setImmediate(resolve));

describe("SelfClockedBatch", () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it("sends the requests of one turn as one batch, each answered with its own value", async () => {
    const calls: number[][] = [];
    const batch = new SelfClockedBatch(async (keys: number[]) => {
      calls.push(keys);
      return keys.map((k) => k * 10);
    });
    const answers = await Promise.all([3, 1, 3, 2].map((k) => batch.get(k)));
    expect(answers).toEqual([30, 10, 30, 20]);
    expect(calls).toEqual([[3, 1, 3, 2]]);
  });

  it("gathers the requests arriving while a batch is in flight into the next", async () => {
    const { batches, releases, run } = controlled();
    const batch = new SelfClockedBatch(run);
    const first = batch.get(1);
    await turn();
    expect(batches).toEqual([[1]]);
    const later = [batch.get(2), batch.get(3)];
    await turn();
    expect(batches).toHaveLength(1); // nothing sent while the first is out
    releases[0]?.();
    expect(await first).toBe("v1");
    await turn();
    expect(batches).toEqual([[1], [2, 3]]);
    releases[1]?.();
    expect(await Promise.all(later)).toEqual(["v2", "v3"]);
    // Idle again: a new request is sent on its own.
    const alone = batch.get(4);
    await turn();
    expect(batches).toEqual([[1], [2, 3], [4]]);
    releases[2]?.();
    expect(await alone).toBe("v4");
  });

  it("fails every request of a failed batch, and still sends the next", async () => {
    const { batches, releases, run } = controlled();
    const batch = new SelfClockedBatch(run);
    const failed = [batch.get(1), batch.get(2)];
    await turn();
    const next = batch.get(3);
    releases[0]?.(new Error("unreachable"));
    for (const request of failed) await expect(request).rejects.toThrow("unreachable");
    await turn();
    expect(batches).toEqual([[1, 2], [3]]);
    releases[1]?.();
    expect(await next).toBe("v3");
  });

  it("with gatherMs, lets requests that come one by one meet in one batch", async () => {
    vi.useFakeTimers();
    const calls: number[][] = [];
    const batch = new SelfClockedBatch(
      async (keys: number[]) => {
        calls.push(keys);
        return keys;
      },
      { gatherMs: 50 },
    );
    const answers = [batch.get(1)];
    await vi.advanceTimersByTimeAsync(20);
    answers.push(batch.get(2));
    await vi.advanceTimersByTimeAsync(20);
    answers.push(batch.get(3));
    expect(calls).toEqual([]);
    await vi.advanceTimersByTimeAsync(10);
    expect(await Promise.all(answers)).toEqual([1, 2, 3]);
    expect(calls).toEqual([[1, 2, 3]]);
    // One alone, later, still goes (after the same wait).
    const alone = batch.get(4);
    await vi.advanceTimersByTimeAsync(50);
    expect(await alone).toBe(4);
    expect(calls).toEqual([[1, 2, 3], [4]]);
  });

  it("sends at most maxBatch keys at a time", async () => {
    const calls: number[][] = [];
    const batch = new SelfClockedBatch(
      async (keys: number[]) => {
        calls.push(keys);
        return keys;
      },
      { maxBatch: 2 },
    );
    expect(await Promise.all([1, 2, 3, 4, 5].map((k) => batch.get(k)))).toEqual([1, 2, 3, 4, 5]);
    expect(calls).toEqual([[1, 2], [3, 4], [5]]);
  });
});
