import { describe, expect, it } from "vitest";
import { capabilityScore } from "../../src/agents/capabilities.ts";

describe("capabilityScore", () => {
  const capabilities = { code_review: 0.9, security_analysis: 0.8 };

  it("reads the agent's own scores", () => {
    expect(capabilityScore(capabilities, "code_review")).toBe(0.9);
    expect(capabilityScore(capabilities, "schema_design")).toBe(0);
  });

  it("finds nothing of the prototype under a name a job chose", () => {
    for (const name of ["constructor", "toString", "__proto__", "valueOf", "hasOwnProperty"]) {
      expect(capabilityScore(capabilities, name)).toBe(0);
    }
  });

  it("reads an own entry named like a prototype property", () => {
    const own = JSON.parse('{"constructor": 0.7, "__proto__": 0.6}') as Record<string, number>;
    expect(capabilityScore(own, "constructor")).toBe(0.7);
    expect(capabilityScore(own, "__proto__")).toBe(0.6);
  });
});
