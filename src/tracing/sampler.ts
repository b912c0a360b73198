import {
  AlwaysOffSampler,
  AlwaysOnSampler,
  type Sampler,
  TraceIdRatioBasedSampler,
} from "@opentelemetry/sdk-trace";

/**
 * The root sampler named by OTEL_TRACES_SAMPLER (the `parentbased_` prefix is implied:
 * a job's spans always have the job's derived root as parent, so the provider's sampler
 * is parent-based and this decides for the root). The ratio sampler decides from the
 * trace id alone, and the trace id is derived from (agent, job): every replica keeps
 * or drops the same jobs, whole.
 */
export function rootSamplerFromEnv(
  name: string,
  arg: string | undefined,
  warn: (message: string) => void,
): Sampler {
  const base = name.replace(/^parentbased_/, "");
  if (base === "always_on") return new AlwaysOnSampler();
  if (base === "always_off") return new AlwaysOffSampler();
  if (base === "traceidratio") {
    const ratio = arg === undefined ? 1 : Number(arg);
    if (!Number.isFinite(ratio) || ratio < 0 || ratio > 1) {
      warn(`OTEL_TRACES_SAMPLER_ARG=${arg} is not a ratio from 0 to 1; sampling every trace`);
      return new AlwaysOnSampler();
    }
    return new TraceIdRatioBasedSampler(ratio);
  }
  warn(`OTEL_TRACES_SAMPLER=${name} is not supported here; sampling every trace`);
  return new AlwaysOnSampler();
}
