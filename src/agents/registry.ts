import { BazaarRunnerError, InvalidArgumentError } from "../errors.ts";
import type { BaseAgentExecutor } from "./base-executor.ts";
import type { AgentConfig } from "./types.ts";

/** A concrete executor class: constructible from an agent config, with a system prompt. */
export type ExecutorClass = (new (
  config: AgentConfig,
) => BaseAgentExecutor) & {
  systemPrompt: string;
};

export interface RegisterOptions {
  /** Replace an executor already registered for the type instead of throwing. */
  replace?: boolean;
}

/** Raised by `createExecutor` for an agent_type nothing registered. */
export class UnknownAgentTypeError extends BazaarRunnerError {
  override name = "UnknownAgentTypeError";
  readonly agentType: string;
  constructor(agentType: string, agentName?: string) {
    const known = registeredTypes();
    super(
      "BR_ERR_UNKNOWN_AGENT_TYPE",
      `Unknown agent_type "${agentType}"${agentName ? ` for agent "${agentName}"` : ""}: ` +
        `registered types are ${known.length > 0 ? known.join(", ") : "(none)"}; ` +
        "a plugin named in AGENT_PLUGINS can register more",
    );
    this.agentType = agentType;
  }
}

const executors = new Map<string, ExecutorClass>();

function checkType(agentType: string): string {
  if (typeof agentType !== "string" || agentType.trim() === "" || agentType.trim() !== agentType) {
    throw new InvalidArgumentError(
      `agent type must be a non-empty string without surrounding spaces, got ${JSON.stringify(agentType)}`,
    );
  }
  return agentType;
}

/**
 * Makes `agentType` runnable by `ctor`. Registering a type twice is an error unless
 * `{ replace: true }` says it is meant. Checked by shape rather than `instanceof`, so
 * a plugin built against its own copy of BaseAgentExecutor still registers.
 */
export function registerExecutor(
  agentType: string,
  ctor: ExecutorClass,
  options: RegisterOptions = {},
): void {
  checkType(agentType);
  if (typeof ctor !== "function" || typeof ctor.prototype !== "object") {
    throw new InvalidArgumentError(`registerExecutor("${agentType}"): expected an executor class`);
  }
  const proto = ctor.prototype as Partial<Record<"evaluateJob" | "executeTask", unknown>>;
  if (typeof proto.evaluateJob !== "function" || typeof proto.executeTask !== "function") {
    throw new InvalidArgumentError(
      `registerExecutor("${agentType}"): the class must implement evaluateJob and executeTask`,
    );
  }
  if (typeof ctor.systemPrompt !== "string" || ctor.systemPrompt.trim() === "") {
    throw new InvalidArgumentError(
      `registerExecutor("${agentType}"): the class needs a non-empty static systemPrompt`,
    );
  }
  const existing = executors.get(agentType);
  if (existing && existing !== ctor && !options.replace) {
    throw new InvalidArgumentError(
      `An executor for agent type "${agentType}" is already registered (${existing.name || "anonymous class"}); pass { replace: true } to replace it`,
    );
  }
  executors.set(agentType, ctor);
}

/** Removes a type; true when it was registered. Meant for tests and plugin reloads. */
export function unregisterExecutor(agentType: string): boolean {
  return executors.delete(agentType);
}

export function getExecutorClass(agentType: string): ExecutorClass | undefined {
  return executors.get(agentType);
}

export function hasExecutor(agentType: string): boolean {
  return executors.has(agentType);
}

/** The registered agent types, sorted. */
export function registeredTypes(): string[] {
  return [...executors.keys()].sort();
}

/** A new executor for the config's agent_type; throws UnknownAgentTypeError if none. */
export function createExecutor(config: AgentConfig): BaseAgentExecutor {
  const ctor = executors.get(config.agent_type);
  if (!ctor) throw new UnknownAgentTypeError(config.agent_type, config.name);
  return new ctor(config);
}

/**
 * What a plugin's `register(registry)` receives (fastify's style): the calls a plugin
 * needs, so a plugin never has to import a second copy of the registry to reach this one.
 */
export interface ExecutorRegistry {
  registerExecutor(agentType: string, ctor: ExecutorClass, options?: RegisterOptions): void;
  hasExecutor(agentType: string): boolean;
  registeredTypes(): string[];
}

export const executorRegistry: ExecutorRegistry = {
  registerExecutor,
  hasExecutor,
  registeredTypes,
};
