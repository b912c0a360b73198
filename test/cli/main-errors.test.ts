import { describe, expect, it } from "vitest";
import { failureText } from "../../src/cli/main.ts";
import { ConfigError } from "../../src/config/env.ts";
import { InvalidArgumentError } from "../../src/errors.ts";
import { everyCode, everyErrorClass } from "../support/error-samples.ts";

describe("what the CLI prints for a failed command", () => {
  it("every user-facing error is one clean line, without a stack even with LOG_LEVEL=debug", () => {
    const userFacing = [...everyErrorClass(), ...everyCode()].filter((e) => e.userFacing);
    expect(userFacing.length).toBeGreaterThan(20);
    for (const error of userFacing) {
      const text = failureText(error, true);
      expect(text, `${error.name} (${error.code})`).toMatch(/^bazaar-runner: [^\n]+\n$/);
      expect(text).toContain(error.message);
      expect(text).not.toMatch(/\bat /);
    }
  });

  it("a configuration error says so", () => {
    expect(failureText(new ConfigError("PORT: too big"), false)).toBe(
      "bazaar-runner: configuration error: PORT: too big\n",
    );
  });

  it("an error not meant for the operator (a bug) adds its stack with LOG_LEVEL=debug only", () => {
    for (const error of [
      new InvalidArgumentError("ledger: jobId must be a non-empty string"),
      new TypeError("x is undefined"),
    ]) {
      const line = `bazaar-runner: ${error.message}\n`;
      expect(failureText(error, false)).toBe(line);
      const debug = failureText(error, true);
      expect(debug.startsWith(line)).toBe(true);
      expect(debug.slice(line.length)).toMatch(/\n\s+at /);
    }
  });
});
