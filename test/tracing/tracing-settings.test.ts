import { execFile } from "node:child_process";
import { resolve } from "node:path";
import { promisify } from "node:util";
import { afterEach, describe, expect, it } from "vitest";
import { silentLogger } from "../../src/logger.ts";
import { scrub } from "../../src/secrets.ts";
import { awardNoticedBy, awardPushed } from "../../src/tracing/award-notice.ts";
import { tracingSettings } from "../../src/tracing/settings.ts";
import { startTracing, type Tracing, tracingRequested } from "../../src/tracing/start.ts";
import { jobTraceIds } from "../../src/tracing/trace-ids.ts";
import { inJobSpan, jobTraceId, recordJobStep, tracingOn } from "../../src/tracing/tracing.ts";
import { type OtlpReceiver, startOtlpReceiver } from "../support/otlp-receiver.ts";

let receiver: OtlpReceiver | undefined;
let tracing: Tracing | undefined;
afterEach(async () => {
  await tracing?.shutdown();
  await receiver?.close();
  tracing = undefined;
  receiver = undefined;
});

describe("switching tracing on", () => {
  it("is off unless a standard OTEL_* variable asks, and off again when told", () => {
    expect(tracingRequested({})).toBe(false);
    expect(tracingRequested({ OTEL_SERVICE_NAME: "x" })).toBe(false);
    expect(tracingRequested({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://collector:4318" })).toBe(true);
    expect(tracingRequested({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: "http://c/v1/traces" })).toBe(
      true,
    );
    expect(tracingRequested({ OTEL_TRACES_EXPORTER: "otlp" })).toBe(true);
    expect(
      tracingRequested({
        OTEL_EXPORTER_OTLP_ENDPOINT: "http://c:4318",
        OTEL_TRACES_EXPORTER: "none",
      }),
    ).toBe(false);
    expect(
      tracingRequested({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://c:4318", OTEL_SDK_DISABLED: "true" }),
    ).toBe(false);
  });

  it("off: nothing starts, and every hook is a pass-through", async () => {
    expect(await startTracing({ env: {}, logger: silentLogger() })).toBeUndefined();
    expect(tracingOn()).toBe(false);
    expect(jobTraceId("agent", "job")).toBeUndefined();
    let seen: unknown = "unset";
    const value = await inJobSpan("agent", "job", "bazaar.bid", {}, async (span) => {
      seen = span;
      return 42;
    });
    expect(value).toBe(42);
    expect(seen).toBeUndefined();
  });

  it("off: the start-up path loads nothing of OpenTelemetry; on: the SDK loads", async () => {
    const root = resolve(import.meta.dirname, "../..");
    const loaded = async (env: Record<string, string>) => {
      const script = `
        import { registerHooks } from "node:module";
        const otel = new Set();
        registerHooks({ resolve(spec, ctx, next) {
          const r = next(spec, ctx);
          const m = /node_modules\\/(@opentelemetry\\/[^/]+|@ai-sdk\\/otel)\\//.exec(r.url);
          if (m) otel.add(m[1]);
          return r;
        } });
        await import("./src/cli/start.ts");
        await import("./src/runner/runner.ts");
        const { silentLogger } = await import("./src/logger.ts");
        const { startTracing } = await import("./src/tracing/start.ts");
        const tracing = await startTracing({ env: ${JSON.stringify(env)}, logger: silentLogger() });
        await tracing?.shutdown();
        console.log(JSON.stringify([...otel].sort()));`;
      const { stdout } = await promisify(execFile)(
        process.execPath,
        ["--input-type=module", "--eval", script],
        { cwd: root },
      );
      return JSON.parse(stdout.trim().split("\n").at(-1)!) as string[];
    };
    // The API alone is there already: prom-client's process metrics load it.
    expect((await loaded({})).filter((name) => name !== "@opentelemetry/api")).toEqual([]);
    expect(await loaded({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://127.0.0.1:9" })).toContain(
      "@opentelemetry/sdk-trace",
    );
  }, 120_000);

  it("reads the standard variables, with the specification's defaults", () => {
    const defaults = tracingSettings({ OTEL_TRACES_EXPORTER: "otlp" });
    expect(defaults.url).toBe("http://localhost:4318/v1/traces");
    expect(defaults.maxQueueSize).toBe(2048);
    expect(defaults.maxExportBatchSize).toBe(512);
    expect(defaults.sampler).toBe("parentbased_always_on");
    const set = tracingSettings({
      OTEL_EXPORTER_OTLP_ENDPOINT: "https://otlp.example.com/",
      OTEL_EXPORTER_OTLP_HEADERS: "x-honeycomb-team=abc%20def,other=1",
      OTEL_SERVICE_NAME: "runner-eu",
      OTEL_BSP_MAX_QUEUE_SIZE: "100",
      OTEL_BSP_MAX_EXPORT_BATCH_SIZE: "512",
      OTEL_TRACES_SAMPLER: "parentbased_traceidratio",
      OTEL_TRACES_SAMPLER_ARG: "0.25",
    });
    expect(set.url).toBe("https://otlp.example.com/v1/traces");
    expect(set.headers).toEqual({ "x-honeycomb-team": "abc def", other: "1" });
    expect(set.serviceName).toBe("runner-eu");
    // A batch is never larger than the queue.
    expect(set.maxExportBatchSize).toBe(100);
    expect(set.summary).not.toHaveProperty("x-honeycomb-team");
    expect(JSON.stringify(set.summary)).not.toContain("abc def");
  });

  it("keeps the exporter's header values out of every log line", async () => {
    receiver = await startOtlpReceiver();
    const key = "hc-key-8f1d2e7a90b3";
    tracing = await startTracing({
      env: {
        OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
        OTEL_EXPORTER_OTLP_HEADERS: `x-key=${key}`,
      },
      logger: silentLogger(),
    });
    expect(scrub(`sent with ${key}`)).not.toContain(key);
  });
});

describe("one trace id per (agent, job)", () => {
  it("is derived, so every replica and every restart computes the same", () => {
    const a = jobTraceIds("agent-1", "job-1");
    expect(a).toEqual(jobTraceIds("agent-1", "job-1"));
    expect(a.traceId).toMatch(/^[0-9a-f]{32}$/);
    expect(a.rootSpanId).toMatch(/^[0-9a-f]{16}$/);
    expect(jobTraceIds("agent-2", "job-1").traceId).not.toBe(a.traceId);
    expect(jobTraceIds("agent-1", "job-2").traceId).not.toBe(a.traceId);
    // No ambiguity where the two ids meet.
    expect(jobTraceIds("a", "bc").traceId).not.toBe(jobTraceIds("ab", "c").traceId);
  });

  it("samples whole jobs by the standard sampler: ratio 0 exports none of a job's spans", async () => {
    receiver = await startOtlpReceiver();
    tracing = await startTracing({
      env: {
        OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
        OTEL_TRACES_SAMPLER: "traceidratio",
        OTEL_TRACES_SAMPLER_ARG: "0",
        OTEL_BSP_SCHEDULE_DELAY: "10",
      },
      logger: silentLogger(),
    });
    recordJobStep("agent-1", "job-1", "bazaar.decision", {});
    await inJobSpan("agent-1", "job-1", "bazaar.bid", {}, async () => undefined);
    await tracing!.flush();
    expect(receiver.spans()).toHaveLength(0);

    await tracing!.shutdown();
    tracing = await startTracing({
      env: { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url, OTEL_BSP_SCHEDULE_DELAY: "10" },
      logger: silentLogger(),
    });
    recordJobStep("agent-1", "job-1", "bazaar.decision", {});
    await tracing!.flush();
    const [span] = receiver.spans();
    expect(span?.traceId).toBe(jobTraceIds("agent-1", "job-1").traceId);
    expect(span?.parentSpanId).toBe(jobTraceIds("agent-1", "job-1").rootSpanId);
  });
});

describe("how an award was noticed", () => {
  it("is push once a webhook notification brought it, else poll; each mark is used once", () => {
    expect(awardNoticedBy("job-p")).toBe("poll");
    awardPushed("job-p");
    expect(awardNoticedBy("job-p")).toBe("push");
    expect(awardNoticedBy("job-p")).toBe("poll");
    // Bounded: the oldest marks go first.
    for (let i = 0; i < 1_001; i++) awardPushed(`job-${i}`);
    expect(awardNoticedBy("job-0")).toBe("poll");
    expect(awardNoticedBy("job-1000")).toBe("push");
  });
});
