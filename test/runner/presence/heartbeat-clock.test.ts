import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { HeartbeatClock, heartbeatTickMs } from "../../../src/runner/presence/heartbeat-clock.ts";

describe("HeartbeatClock", () => {
  let now = 0;
  let clock: HeartbeatClock;
  /** When each beat came, by name, in clock time. */
  const calls: [string, number][] = [];
  const beat = (name: string) => () => calls.push([name, now]);
  /** Moves the clock's time and its timer on by `ms`, one tick at a time. */
  const pass = (ms: number, tickMs = 1000) => {
    for (let t = 0; t < ms; t += tickMs) {
      now += tickMs;
      vi.advanceTimersByTime(tickMs);
    }
  };

  beforeEach(() => {
    vi.useFakeTimers();
    now = 100_000;
    calls.length = 0;
    clock = new HeartbeatClock({ tickMs: 1000, now: () => now });
  });
  afterEach(() => {
    clock.close();
    vi.useRealTimers();
  });

  it("beats at each moment rounded up to its tick: first, then once sooner, then every interval", () => {
    clock.every(2_500, 30_000, 60_000, beat("a"));
    clock.every(2_100, 60_000, 60_000, beat("b"));
    pass(200_000);
    expect(calls).toEqual([
      ["a", 103_000],
      ["b", 103_000],
      ["a", 133_000],
      ["b", 163_000],
      ["a", 193_000],
      ["b", 223_000],
      ["a", 253_000],
      ["b", 283_000],
    ]);
  });

  it("beats due in one tick go out together, in one turn of one timer", () => {
    for (let i = 0; i < 100; i++) clock.every(i * 10, 60_000, 60_000, beat(`agent ${i}`));
    expect(vi.getTimerCount()).toBe(1);
    pass(1_000);
    expect(calls).toHaveLength(100);
    expect(new Set(calls.map(([, at]) => at))).toEqual(new Set([101_000]));
  });

  it("stops one agent's beats, and its timer with the last", () => {
    const stopA = clock.every(0, 5_000, 5_000, beat("a"));
    const stopB = clock.every(0, 5_000, 5_000, beat("b"));
    pass(1_000);
    stopA();
    stopA(); // twice is once
    pass(10_000);
    expect(calls.map(([name]) => name)).toEqual(["a", "b", "b", "b"]);
    expect(clock.size).toBe(1);
    stopB();
    expect(clock.size).toBe(0);
    expect(vi.getTimerCount()).toBe(0);
    pass(10_000);
    expect(calls).toHaveLength(4);
  });

  it("after a pause (a late timer) beats once, not once per interval missed, then keeps its interval", () => {
    clock.every(0, 5_000, 5_000, beat("a"));
    pass(1_000);
    now += 60_000; // the process was stopped for a minute
    pass(1_000);
    pass(10_000);
    expect(calls).toEqual([
      ["a", 101_000],
      ["a", 162_000],
      ["a", 167_000],
      ["a", 172_000],
    ]);
  });

  it("nothing beats after close()", () => {
    clock.every(0, 1_000, 1_000, beat("a"));
    clock.close();
    pass(5_000);
    expect(calls).toEqual([]);
    expect(vi.getTimerCount()).toBe(0);
  });

  it("ticks every 100 ms, or a quarter of a shorter interval", () => {
    expect(heartbeatTickMs(60_000)).toBe(100);
    expect(heartbeatTickMs(4_000)).toBe(100);
    expect(heartbeatTickMs(200)).toBe(50);
    expect(heartbeatTickMs(1)).toBe(10);
  });
});
