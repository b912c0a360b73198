/**
 * What the tracing hooks cost with tracing off (no OTEL_* variable set): each hook on the
 * runner's paths (a job step, a marketplace call's client span, a job's trace id, a step
 * around real work) and a log line with the trace mixin beside one without it. Best of
 * 15 rounds of 50,000 calls each, alternating, so a busy machine shows in the spread
 * rather than in the comparison.
 *
 *   node bench/tracing-off.ts
 */
import { Writable } from "node:stream";
import pino from "pino";
import { createLogger, REDACT_PATHS } from "../src/logger.ts";
import { scrub } from "../src/secrets.ts";
import { inJobSpan, jobTraceId, recordJobStep, startClientSpan } from "../src/tracing/tracing.ts";

const sink = new Writable({
  write(_chunk, _encoding, done) {
    done();
  },
});
const withMixin = createLogger({ destination: sink, pretty: false }).child({ agentId: "a" });
// createLogger's options without the mixin: the logger as it was before tracing.
const without = pino(
  {
    level: "info",
    base: { pid: process.pid },
    redact: { paths: REDACT_PATHS, censor: "[REDACTED]" },
    hooks: { streamWrite: (line: string) => scrub(line) },
    serializers: { err: pino.stdSerializers.err },
  },
  sink,
).child({ agentId: "a" });

const best = new Map<string, number>();
function measure(name: string, call: () => void): void {
  for (let i = 0; i < 5_000; i++) call();
  const started = process.hrtime.bigint();
  for (let i = 0; i < 50_000; i++) call();
  const ns = Number(process.hrtime.bigint() - started) / 50_000;
  best.set(name, Math.min(best.get(name) ?? Number.POSITIVE_INFINITY, ns));
}
for (let round = 0; round < 15; round++) {
  measure("log line without the trace mixin", () => without.info({ jobId: "j" }, "line"));
  measure("log line with the trace mixin", () => withMixin.info({ jobId: "j" }, "line"));
  measure("recordJobStep", () => recordJobStep("a", "j", "bazaar.decision", { x: 1 }));
  measure("startClientSpan", () => void startClientSpan("GET /api/jobs/:id", {}));
  measure("jobTraceId", () => void jobTraceId("a", "j"));
  measure("inJobSpan around resolved work", () => {
    void inJobSpan("a", "j", "bazaar.bid", {}, () => Promise.resolve(1));
  });
}
for (const [name, ns] of best) console.log(`${name.padEnd(34)} ${ns.toFixed(1).padStart(8)} ns`);
