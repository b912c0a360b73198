import pino, { type Logger } from "pino";
import { scrub } from "./secrets.ts";
import { activeTraceId } from "./tracing/tracing.ts";

export type { Logger } from "pino";

export interface LoggerOptions {
  level?: string;
  /** Pretty lines instead of JSON; defaults to whether stdout is a terminal. */
  pretty?: boolean;
  /** Where JSON lines go (tests capture them); defaults to stdout. */
  destination?: NodeJS.WritableStream;
}

/** Paths redacted by pino itself, before the line-level scrub catches anything else. */
export const REDACT_PATHS = [
  "apiKey",
  "*.apiKey",
  "authorization",
  "*.authorization",
  "headers.authorization",
  "*.headers.authorization",
  "password",
  "*.password",
  "mongodbUri",
  "*.mongodbUri",
  "fireworksApiKey",
  "*.fireworksApiKey",
];

/**
 * The one logger of the process: JSON lines (pretty on a terminal), every line
 * scrubbed of registered secrets on its way out.
 */
export function createLogger(options: LoggerOptions = {}): Logger {
  const pretty = options.pretty ?? (process.stdout.isTTY === true && !options.destination);
  const base: pino.LoggerOptions = {
    level: options.level ?? "info",
    base: { pid: process.pid },
    redact: { paths: REDACT_PATHS, censor: "[REDACTED]" },
    hooks: { streamWrite: (line: string) => scrub(line) },
    serializers: { err: pino.stdSerializers.err },
    // Tracing on: a line logged inside a job's span names its trace (off: returns at once).
    mixin: traceMixin,
    mixinMergeStrategy: mergeTrace,
  };
  if (pretty) {
    return pino({
      ...base,
      transport: {
        target: "pino-pretty",
        options: { colorize: true, translateTime: "SYS:HH:MM:ss", ignore: "pid,hostname" },
      },
    });
  }
  const destination = options.destination ?? pino.destination({ dest: 1, sync: false });
  return pino(base, destination);
}

const NO_TRACE = Object.freeze({});

function traceMixin(): { traceId?: string } {
  const traceId = activeTraceId();
  return traceId === undefined ? NO_TRACE : { traceId };
}

/** Without a trace the line's own object goes out as it is: nothing copied, nothing allocated. */
function mergeTrace(mergeObject: object, mixinObject: object): object {
  return mixinObject === NO_TRACE ? mergeObject : Object.assign(mixinObject, mergeObject);
}

/** A logger that prints nothing, for tests and library use. */
export function silentLogger(): Logger {
  return pino({ level: "silent" });
}

/**
 * The logger to hand a fastify instance. Fastify logs "Server listening at …" at info, once
 * per interface of a wildcard bind; our own summary line says it once, so at info and
 * quieter levels fastify's info lines are dropped (its warnings and errors stay). At
 * debug and trace it says everything.
 */
export function frameworkLogger(log: Logger): Logger {
  return log.isLevelEnabled("debug") ? log : log.child({}, { level: quieter(log.level) });
}

function quieter(level: string): string {
  return level === "info" ? "warn" : level;
}
