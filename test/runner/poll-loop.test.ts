import { describe, expect, it } from "vitest";
import { silentLogger } from "../../src/logger.ts";
import type { JobWithBids } from "../../src/marketplace/schemas.ts";
import { createMetrics } from "../../src/metrics.ts";
import type { FeedPage } from "../../src/runner/feed/job-feed.ts";
import { PollLoop } from "../../src/runner/poll-loop.ts";
import { waitFor } from "../support/wait.ts";

/** A poll loop over a scripted feed: each poll takes the next answer (a page, or an error). */
function looping(answers: Array<FeedPage | Error>) {
  const stop = new AbortController();
  const seen: string[] = [];
  let polls = 0;
  const health = {
    up: true,
    ok: () => seen.push("ok"),
    failed: () => {
      seen.push("failed");
      return false;
    },
    probeDelay: () => 1,
  };
  const loop = new PollLoop({
    feed: {
      poll: async () => {
        const answer = answers[Math.min(polls++, answers.length - 1)] as FeedPage | Error;
        if (answer instanceof Error) throw answer;
        return answer;
      },
    },
    health,
    metrics: createMetrics({ processMetrics: false }),
    logger: silentLogger(),
    marketplaceUrl: "http://127.0.0.1:1",
    pollIntervalMs: 1,
    interval: () => 1,
    fleet: {
      newPoll: () => seen.push("new poll"),
      dispatch: async (page) => {
        seen.push(`dispatch ${page.biddable.length}`);
      },
      answerOffers: async (jobs) => {
        seen.push(`offers ${jobs.length}`);
      },
    },
    money: {
      poll: async () => {
        seen.push("money");
        throw new Error("payments away"); // never stops the loop
      },
    },
    signal: stop.signal,
  });
  return { loop, stop, seen, polls: () => polls };
}

const page = (biddable: number, negotiating?: number): FeedPage => ({
  biddable: Array.from({ length: biddable }, () => ({}) as FeedPage["biddable"][number]),
  assigned: [],
  ...(negotiating
    ? { negotiating: Array.from({ length: negotiating }, () => ({}) as JobWithBids) }
    : {}),
});

describe("the poll loop", () => {
  it("hands each poll's jobs on, then counter-offers and money; a failed poll marks the marketplace unreachable until the next answer", async () => {
    const { loop, stop, seen, polls } = looping([
      page(2, 1),
      new Error("connect ECONNREFUSED"),
      page(0),
    ]);
    expect(loop.reachable).toBe(false);
    expect(loop.lastOkAt).toBeNull();
    loop.start();
    loop.start(); // one loop, however often started
    await waitFor("three polls", () => (polls() >= 3 ? true : undefined));
    stop.abort();
    await loop.finished();
    const ended = polls();
    expect(seen.slice(0, 9)).toEqual([
      "new poll",
      "ok",
      "dispatch 2",
      "offers 1",
      "money",
      "new poll",
      "failed",
      "new poll",
      "ok",
    ]);
    expect(loop.reachable).toBe(true);
    expect(loop.lastOkAt).not.toBeNull();
    // Ended: no poll after the loop finished.
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(polls()).toBe(ended);
  });

  it("says unreachable after a failed poll", async () => {
    const { loop, stop, polls } = looping([page(0), new Error("connect ECONNREFUSED")]);
    loop.start();
    await waitFor("a failed poll", () => (polls() >= 3 ? true : undefined));
    stop.abort();
    await loop.finished();
    expect(loop.reachable).toBe(false);
    expect(loop.lastOkAt).not.toBeNull(); // the first poll's answer
  });

  it("finishes at once when never started", async () => {
    const { loop } = looping([page(0)]);
    await expect(loop.finished()).resolves.toBeUndefined();
  });
});
