import { afterEach, describe, expect, it } from "vitest";
import { createLogger } from "../../src/logger.ts";
import { createMetrics } from "../../src/metrics.ts";
import type { Runner } from "../../src/runner/runner.ts";
import { startTracing, type Tracing } from "../../src/tracing/start.ts";
import { inJobSpan, recordJobStep, tracingOn } from "../../src/tracing/tracing.ts";
import { counterSum, waitForBid } from "../support/market-helpers.ts";
import { type OtlpReceiver, startOtlpReceiver } from "../support/otlp-receiver.ts";
import { type Harness, LogCapture, postJob, startHarness } from "../support/runner-harness.ts";
import { waitFor } from "../support/wait.ts";

/**
 * A collector that is down or hangs never holds up the runner: ending a span only
 * appends to a bounded queue, and what does not fit is dropped and counted.
 */

let h: Harness | undefined;
let receiver: OtlpReceiver | undefined;
let tracing: Tracing | undefined;
afterEach(async () => {
  receiver?.release();
  await h?.close();
  await tracing?.shutdown();
  await receiver?.close();
  h = undefined;
  tracing = undefined;
  receiver = undefined;
});

const dropped = (metrics: ReturnType<typeof createMetrics>, reason: string) =>
  counterSum(metrics.traceSpansDropped, { reason });

describe("a collector that hangs", () => {
  it("drops and counts what exceeds the queue, exactly, and ending a span never waits", async () => {
    receiver = await startOtlpReceiver();
    receiver.stall();
    const metrics = createMetrics({ processMetrics: false });
    const logs = new LogCapture();
    tracing = await startTracing({
      env: {
        OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
        OTEL_BSP_MAX_QUEUE_SIZE: "4",
        OTEL_BSP_MAX_EXPORT_BATCH_SIZE: "2",
        OTEL_BSP_SCHEDULE_DELAY: "10",
        // Longer than the test: the one export sent stays unanswered throughout.
        OTEL_EXPORTER_OTLP_TIMEOUT: "600000",
      },
      logger: createLogger({ destination: logs, pretty: false }),
      metrics,
    });
    // 50 steps of one job, recorded synchronously: none of them waits for the collector.
    for (let i = 0; i < 50; i++) recordJobStep("agent-1", "job-1", "bazaar.decision", { i });
    // The first 2 went out in one export (which hangs); 4 wait in the queue; 44 are dropped.
    expect(await dropped(metrics, "queue_full")).toBe(44);
    await waitFor("the one export request", () => (receiver!.requests === 1 ? true : undefined));
    // A job step around real work still runs the work and returns its value at once.
    expect(await inJobSpan("agent-1", "job-1", "bazaar.bid", {}, async () => "placed")).toBe(
      "placed",
    );
    expect(await dropped(metrics, "queue_full")).toBe(45);
    expect(receiver.spans()).toHaveLength(0);
  });

  it("lets the runner heartbeat and bid while the collector hangs", async () => {
    receiver = await startOtlpReceiver();
    receiver.stall();
    h = await startHarness();
    const metrics = createMetrics({ processMetrics: false });
    tracing = await startTracing({
      env: {
        OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
        OTEL_BSP_MAX_QUEUE_SIZE: "2",
        OTEL_BSP_MAX_EXPORT_BATCH_SIZE: "1",
        OTEL_BSP_SCHEDULE_DELAY: "10",
        OTEL_EXPORTER_OTLP_TIMEOUT: "600000",
      },
      logger: h.logger,
      metrics,
    });
    const runner: Runner = await h.startRunner({}, { metrics });
    await waitFor("all agents running", () =>
      runner.workers.length === 3 && runner.workers.every((w) => w.state === "running")
        ? true
        : undefined,
    );
    const jobIds = [];
    for (let i = 0; i < 3; i++)
      jobIds.push(
        await postJob(h.marketplace.url, {
          title: `Design an OpenAPI schema ${i}`,
          description: "PostgreSQL schema and OpenAPI 3 spec for a bookings REST API.",
          budget_usd: 1,
          required_capabilities: ["schema_design"],
        }),
      );
    // Every job is bid on, with the exporter stuck on its first request.
    for (const jobId of jobIds) await waitForBid(h.marketplace.url, jobId);
    const before = await counterSum(metrics.heartbeats, { outcome: "ok" });
    await waitFor("more heartbeats", async () =>
      (await counterSum(metrics.heartbeats, { outcome: "ok" })) >= before + 3 ? true : undefined,
    );
    expect(receiver.requests).toBe(1);
    expect(await dropped(metrics, "queue_full")).toBeGreaterThan(0);
    expect(tracingOn()).toBe(true);
  });
});
