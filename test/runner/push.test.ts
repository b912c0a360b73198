import { describe, expect, it } from "vitest";
import { pollIntervalFor, WEBHOOK_PATH, webhookUrl } from "../../src/runner/push.ts";

describe("push helpers", () => {
  it("polls at the interval without notifications, four times slower while they arrive", () => {
    const base = 30_000;
    const now = 1_000_000_000;
    expect(pollIntervalFor(base, 0, now)).toBe(base);
    expect(pollIntervalFor(base, now - 1000, now)).toBe(4 * base);
    // Ten relaxed intervals without a notification: back to the plain interval.
    expect(pollIntervalFor(base, now - 10 * 4 * base + 1, now)).toBe(4 * base);
    expect(pollIntervalFor(base, now - 10 * 4 * base, now)).toBe(base);
  });

  it("puts the webhook path on PUBLIC_URL", () => {
    expect(webhookUrl(undefined)).toBeUndefined();
    expect(webhookUrl("https://runner.example")).toBe(`https://runner.example${WEBHOOK_PATH}`);
  });
});
