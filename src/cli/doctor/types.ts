import type { Dispatcher } from "undici";
import type { AgentConfig } from "../../agents/types.ts";
import type { RunnerConfig } from "../../config/env.ts";
import type { CliContext } from "../context.ts";

export type CheckLevel = "ok" | "warn" | "fail";

/** One line of doctor's report. */
export interface CheckResult {
  name: string;
  level: CheckLevel;
  message: string;
}

/**
 * What a check may read and leave for the checks after it: the configuration doctor
 * checks, one connection pool, and what earlier checks found (the agents, whether
 * MongoDB answered).
 */
export interface DoctorState {
  ctx: CliContext;
  config: RunnerConfig;
  pool: Dispatcher;
  /** Set by the agents check when the agents loaded. */
  agentConfigs?: AgentConfig[];
  /** Set by the MongoDB check when the server did not answer. */
  mongoUnreachable?: boolean;
}

/** A named check: its lines of the report (most give one; MongoDB adds change streams). */
export interface DoctorCheck {
  name: string;
  run(state: DoctorState): Promise<CheckResult[]>;
}

export function result(name: string, level: CheckLevel, message: string): CheckResult {
  return { name, level, message };
}

/** Whose configuration doctor checks: this process's, not a running runner's. */
export function whose(ctx: CliContext): string {
  return `this shell's environment${ctx.fromDotEnv.length ? " and ./.env" : ""}`;
}
