import { PluginLoadError } from "../../src/agents/plugins.ts";
import { UnknownAgentTypeError } from "../../src/agents/registry.ts";
import { CliError } from "../../src/cli/context.ts";
import { ConfigError } from "../../src/config/env.ts";
import {
  BazaarRunnerError,
  ERROR_CODES,
  type ErrorCode,
  InvalidArgumentError,
} from "../../src/errors.ts";
import { emptyCompletion } from "../../src/llm/errors.ts";
import { LlmError, LlmNotConfiguredError } from "../../src/llm/types.ts";
import { BodyTooLarge } from "../../src/marketplace/dispatch.ts";
import { SinkFailed } from "../../src/marketplace/dispatch-sink.ts";
import { MarketplaceError } from "../../src/marketplace/errors.ts";
import {
  ApiError,
  InternalError,
  RequestValidationError,
} from "../../src/marketplace-server/errors.ts";
import { StaleEpochError } from "../../src/state/fence.ts";
import { StateDirLockedError } from "../../src/state/state-dir-lock.ts";
import { NoWalletError } from "../../src/wallet/agent-wallets.ts";
import { MnemonicError } from "../../src/wallet/keys.ts";

/** One instance of every error class of src/, as the code that throws it makes it. */
export function everyErrorClass(): BazaarRunnerError[] {
  const http = (status: number) =>
    new MarketplaceError(`GET /api/jobs: answered ${status}`, {
      kind: "http",
      status,
      route: "GET /api/jobs",
      attempts: 1,
    });
  return [
    new InvalidArgumentError("ledger: jobId must be a non-empty string"),
    new ConfigError("AGENT_POLL_INTERVAL: expected a number"),
    new StateDirLockedError("/tmp/state/runner.lock", 4242),
    new CliError("job j1 not found"),
    new UnknownAgentTypeError("nonesuch", "Agent"),
    new PluginLoadError("./missing.ts", "no such file"),
    new NoWalletError("agent A can be paid nowhere"),
    new MnemonicError("not a valid BIP-39 English mnemonic"),
    new LlmNotConfiguredError(),
    new LlmError("LLM answered 503", { kind: "http", attempts: 3, retryable: true }),
    new LlmError("LLM answered 401", { kind: "http", attempts: 1, retryable: false }),
    new LlmError("LLM call aborted after 1 attempt(s)", {
      kind: "aborted",
      attempts: 1,
      retryable: false,
    }),
    emptyCompletion() as BazaarRunnerError,
    http(503),
    http(404),
    new MarketplaceError("GET /api/jobs: no answer within 15000 ms", {
      kind: "timeout",
      route: "GET /api/jobs",
      attempts: 4,
    }),
    new BodyTooLarge(1024),
    new SinkFailed(new Error("unexpected token")),
    new StaleEpochError("a1", 1, 2),
    new ApiError(404, "Job not found"),
    new RequestValidationError([
      { type: "missing", loc: ["body", "name"], msg: "Field required", input: {} },
    ]),
    new InternalError("complete: job j1 not found"),
  ];
}

/** One error of every code, of the plain base class where no subclass carries it. */
export function everyCode(): BazaarRunnerError[] {
  return (Object.keys(ERROR_CODES) as ErrorCode[]).map(
    (code) => new BazaarRunnerError(code, `an error of code ${code}`),
  );
}
