import { afterEach, describe, expect, it } from "vitest";
import { BaseAgentExecutor } from "../../src/agents/base-executor.ts";
import {
  createExecutor,
  type ExecutorClass,
  getExecutorClass,
  hasExecutor,
  registerExecutor,
  registeredTypes,
  UnknownAgentTypeError,
  unregisterExecutor,
} from "../../src/agents/registry.ts";
import type { Evaluation, TaskResult } from "../../src/agents/types.ts";
import { makeAgent } from "./helpers.ts";

function executorClass(prompt: string): ExecutorClass {
  return class extends BaseAgentExecutor {
    static override systemPrompt = prompt;
    async evaluateJob(): Promise<Evaluation> {
      return {
        canComplete: false,
        confidence: 0,
        bidAmountUsd: 0,
        estimatedTimeMinutes: 0,
        reasoning: prompt,
      };
    }
    async executeTask(): Promise<TaskResult> {
      return { success: true, output: prompt, tokensUsed: 0, model: "none", latencyMs: 0 };
    }
  };
}

describe("executor registry", () => {
  // The registry is process-wide: each test starts without the types the others made
  // (so that tests also pass when repeated, as `npm run test:stress -- --repeats` does).
  afterEach(() => {
    for (const type of registeredTypes()) if (type.startsWith("reg_")) unregisterExecutor(type);
  });

  it("registers, looks up, creates and unregisters a type", () => {
    const Cls = executorClass("first");
    registerExecutor("reg_basic", Cls);
    expect(hasExecutor("reg_basic")).toBe(true);
    expect(getExecutorClass("reg_basic")).toBe(Cls);
    expect(registeredTypes()).toContain("reg_basic");
    const executor = createExecutor(makeAgent({ agent_type: "reg_basic" }));
    expect(executor).toBeInstanceOf(Cls);
    expect(unregisterExecutor("reg_basic")).toBe(true);
    expect(hasExecutor("reg_basic")).toBe(false);
  });

  it("lists types sorted", () => {
    registerExecutor("reg_sort_b", executorClass("b"));
    registerExecutor("reg_sort_a", executorClass("a"));
    const types = registeredTypes().filter((t) => t.startsWith("reg_sort_"));
    expect(types).toEqual(["reg_sort_a", "reg_sort_b"]);
  });

  it("throws a clear error for an unknown type", () => {
    registerExecutor("reg_known", executorClass("k"));
    const config = makeAgent({ name: "Mystery", agent_type: "no_such_type" });
    expect(() => createExecutor(config)).toThrow(UnknownAgentTypeError);
    expect(() => createExecutor(config)).toThrow(
      /Unknown agent_type "no_such_type" for agent "Mystery": registered types are .*reg_known/,
    );
  });

  it("refuses a second class for a type unless replace is explicit", () => {
    const First = executorClass("first");
    const Second = executorClass("second");
    registerExecutor("reg_dup", First);
    expect(() => registerExecutor("reg_dup", Second)).toThrow(/already registered.*replace: true/);
    expect(getExecutorClass("reg_dup")).toBe(First);
    registerExecutor("reg_dup", First); // the same class again is harmless
    registerExecutor("reg_dup", Second, { replace: true });
    expect(getExecutorClass("reg_dup")).toBe(Second);
  });

  it("rejects a class without a system prompt or methods, and a bad type name", () => {
    expect(() => registerExecutor("reg_bad", executorClass(""))).toThrow(/systemPrompt/);
    const NotAnExecutor = Object.assign(function NotAnExecutor() {}, {
      systemPrompt: "x",
    }) as unknown as ExecutorClass;
    expect(() => registerExecutor("reg_bad", NotAnExecutor)).toThrow(/evaluateJob and executeTask/);
    expect(() => registerExecutor(" padded ", executorClass("x"))).toThrow(/agent type/);
    expect(() => registerExecutor("", executorClass("x"))).toThrow(/agent type/);
    expect(hasExecutor("reg_bad")).toBe(false);
  });
});
