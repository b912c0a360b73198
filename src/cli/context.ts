import type { RunnerConfig } from "../config/env.ts";
import { BazaarRunnerError, type BazaarRunnerErrorOptions } from "../errors.ts";

/** A user mistake or an expected failure: printed as one line, no stack trace. */
export class CliError extends BazaarRunnerError {
  override name = "CliError";
  constructor(message: string, options?: BazaarRunnerErrorOptions) {
    super("BR_ERR_CLI", message, options);
  }
}

/** What commands get: lazily validated config and where to print. */
export interface CliContext {
  config(): RunnerConfig;
  /** Variable names the working directory's `.env` set. */
  fromDotEnv: readonly string[];
  out(line: string): void;
}
