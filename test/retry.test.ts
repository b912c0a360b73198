import { describe, expect, it } from "vitest";
import { backoffDelay, parseRetryAfter, sleep } from "../src/retry.ts";

describe("parseRetryAfter", () => {
  const now = Date.parse("2025-06-01T12:00:00Z");

  it("reads delta-seconds, whole and fractional", () => {
    expect(parseRetryAfter("120", now)).toBe(120_000);
    expect(parseRetryAfter(" 7 ", now)).toBe(7000);
    expect(parseRetryAfter("1.5", now)).toBe(1500);
    expect(parseRetryAfter("0", now)).toBe(0);
  });

  it("reads an HTTP-date relative to now", () => {
    expect(parseRetryAfter("Sun, 01 Jun 2025 12:00:30 GMT", now)).toBe(30_000);
  });

  it("gives 0 for a date in the past", () => {
    expect(parseRetryAfter("Sun, 01 Jun 2025 11:59:00 GMT", now)).toBe(0);
  });

  it("gives undefined for absent or unreadable values", () => {
    expect(parseRetryAfter(undefined, now)).toBeUndefined();
    expect(parseRetryAfter(null, now)).toBeUndefined();
    expect(parseRetryAfter("", now)).toBeUndefined();
    expect(parseRetryAfter("-5", now)).toBeUndefined();
    expect(parseRetryAfter("soon", now)).toBeUndefined();
    expect(parseRetryAfter("12abc", now)).toBeUndefined();
  });
});

describe("backoffDelay", () => {
  const options = { baseMs: 500, capMs: 20_000 };

  it("doubles the ceiling per failed attempt", () => {
    const top = () => 0.999_999;
    expect(backoffDelay(1, { ...options, random: top })).toBeCloseTo(500, 0);
    expect(backoffDelay(2, { ...options, random: top })).toBeCloseTo(1000, 0);
    expect(backoffDelay(3, { ...options, random: top })).toBeCloseTo(2000, 0);
    expect(backoffDelay(6, { ...options, random: top })).toBeCloseTo(16_000, 0);
  });

  it("never exceeds the cap, even for absurd attempt numbers", () => {
    const top = () => 0.999_999;
    expect(backoffDelay(7, { ...options, random: top })).toBeLessThanOrEqual(20_000);
    expect(backoffDelay(7, { ...options, random: top })).toBeGreaterThan(19_999);
    expect(backoffDelay(5000, { ...options, random: top })).toBeLessThanOrEqual(20_000);
  });

  it("applies full jitter: the random fraction scales the whole ceiling", () => {
    expect(backoffDelay(3, { ...options, random: () => 0 })).toBe(0);
    expect(backoffDelay(3, { ...options, random: () => 0.25 })).toBe(500);
    expect(backoffDelay(3, { ...options, random: () => 0.5 })).toBe(1000);
  });

  it("applies equal jitter on request: never below half the ceiling", () => {
    const equal = { ...options, jitter: "equal" as const };
    expect(backoffDelay(3, { ...equal, random: () => 0 })).toBe(1000);
    expect(backoffDelay(3, { ...equal, random: () => 0.5 })).toBe(1500);
    expect(backoffDelay(9, { ...equal, random: () => 0 })).toBe(10_000);
  });

  it("stays within [0, ceiling) with the real random source", () => {
    for (let i = 0; i < 200; i++) {
      const delay = backoffDelay(2, options);
      expect(delay).toBeGreaterThanOrEqual(0);
      expect(delay).toBeLessThan(1000);
    }
  });
});

describe("sleep", () => {
  it("resolves after the wait", async () => {
    await expect(sleep(1)).resolves.toBeUndefined();
  });

  it("rejects at once when the signal is already aborted", async () => {
    const controller = new AbortController();
    controller.abort(new Error("shutting down"));
    await expect(sleep(60_000, controller.signal)).rejects.toThrow("shutting down");
  });

  it("rejects when the signal aborts during the wait", async () => {
    const controller = new AbortController();
    const waiting = sleep(60_000, controller.signal);
    controller.abort();
    await expect(waiting).rejects.toMatchObject({ name: "AbortError" });
  });
});
