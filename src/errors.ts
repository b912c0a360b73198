import { scrub } from "./secrets.ts";

/**
 * The runner's one error vocabulary. Every error it throws is a BazaarRunnerError with a
 * stable `code` (`BR_ERR_*`, listed with what to do in docs/errors.md), and with what its
 * code says about it: whether trying again can help (`retryable`) and whether its message
 * is meant for the operator as it is, one line without a stack (`userFacing`).
 */

/** What a code says about every error that carries it. */
export interface CodeInfo {
  /** Trying the same thing again later can succeed. */
  retryable: boolean;
  /** The message is for the operator as it is: printed as one line, no stack trace. */
  userFacing: boolean;
}

const fault = { retryable: false, userFacing: false } as const;
const transient = { retryable: true, userFacing: false } as const;
const operator = { retryable: false, userFacing: true } as const;
const outage = { retryable: true, userFacing: true } as const;

/** Every code. A code is stable: a caller or an operator's alert may match it. */
export const ERROR_CODES = {
  // Programming errors: a caller broke a function's contract, or an invariant broke.
  BR_ERR_INVALID_ARGUMENT: fault,
  BR_ERR_INTERNAL: fault,
  // Configuration and start-up.
  BR_ERR_CONFIG: operator,
  BR_ERR_AGENT_CONFIG: operator,
  BR_ERR_MONGODB_UNAVAILABLE: outage,
  BR_ERR_STATE_DIR_LOCKED: operator,
  BR_ERR_SCHEMA_TOO_NEW: operator,
  BR_ERR_CLI: operator,
  // Agents and their executors.
  BR_ERR_UNKNOWN_AGENT_TYPE: operator,
  BR_ERR_PLUGIN_LOAD: operator,
  // Wallets.
  BR_ERR_NO_WALLET: operator,
  BR_ERR_INVALID_MNEMONIC: operator,
  // The LLM.
  BR_ERR_LLM_NOT_CONFIGURED: operator,
  BR_ERR_LLM_UNAVAILABLE: outage,
  BR_ERR_LLM_REFUSED: operator,
  BR_ERR_LLM_ABORTED: operator,
  // The marketplace's answers, classified once where they are read (marketplace/errors.ts).
  BR_ERR_MARKETPLACE_UNAVAILABLE: outage,
  BR_ERR_MARKETPLACE_SERVER_ERROR: outage,
  BR_ERR_MARKETPLACE_RATE_LIMITED: outage,
  BR_ERR_MARKETPLACE_UNAUTHORIZED: operator,
  BR_ERR_MARKETPLACE_FORBIDDEN: operator,
  BR_ERR_MARKETPLACE_NOT_FOUND: operator,
  BR_ERR_MARKETPLACE_CONFLICT: operator,
  BR_ERR_MARKETPLACE_REJECTED: operator,
  BR_ERR_MARKETPLACE_UNREADABLE: outage,
  BR_ERR_MARKETPLACE_INVALID_RESPONSE: operator,
  BR_ERR_BODY_TOO_LARGE: fault,
  BR_ERR_BODY_UNREADABLE: transient,
  // The ledger.
  BR_ERR_STALE_EPOCH: fault,
  BR_ERR_LEDGER_CLOSED: fault,
  BR_ERR_LEDGER_CONTENTION: transient,
  // The embedded marketplace (answered as HTTP errors, never thrown out of it).
  BR_ERR_SERVER_API: fault,
  BR_ERR_SERVER_VALIDATION: fault,
  BR_ERR_SERVER_INTERNAL: fault,
} as const satisfies Record<`BR_ERR_${string}`, CodeInfo>;

export type ErrorCode = keyof typeof ERROR_CODES;

/**
 * The brand every instance carries. `Symbol.for` is one symbol per process, so an error
 * made by another copy of this module (a plugin's own install of the package, or a
 * bundled copy) is recognised too: `instanceof` does not rely on one class object.
 */
const BRAND = Symbol.for("bazaar-runner.error");

export interface BazaarRunnerErrorOptions {
  cause?: unknown;
}

/** The base of every error the runner throws. Its message is scrubbed of secrets. */
export class BazaarRunnerError extends Error {
  override name = "BazaarRunnerError";
  readonly code: ErrorCode;
  readonly retryable: boolean;
  readonly userFacing: boolean;

  constructor(code: ErrorCode, message: string, options: BazaarRunnerErrorOptions = {}) {
    super(scrub(message), options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.retryable = ERROR_CODES[code].retryable;
    this.userFacing = ERROR_CODES[code].userFacing;
  }

  get [BRAND](): true {
    return true;
  }

  /**
   * `error instanceof X` for this class or any subclass, also when `error` was made by
   * another copy of the package: a branded error whose prototype chain holds a class of
   * the same name (class names are unique among the runner's errors; a test checks it).
   */
  static override [Symbol.hasInstance](value: unknown): boolean {
    // biome-ignore lint/complexity/noThisInStatic: `this` is the class right of `instanceof`, a subclass too
    return isInstanceOf(value, this);
  }
}

/** Whether `value` is an instance of `type`, made by this copy of the module or another. */
function isInstanceOf(value: unknown, type: { name: string }): boolean {
  if (Function.prototype[Symbol.hasInstance].call(type, value)) return true;
  if (typeof value !== "object" || value === null) return false;
  if ((value as { [BRAND]?: unknown })[BRAND] !== true) return false;
  for (let proto = Object.getPrototypeOf(value); proto !== null; ) {
    if (Object.hasOwn(proto, "constructor") && proto.constructor.name === type.name) return true;
    proto = Object.getPrototypeOf(proto);
  }
  return false;
}

/** A caller passed a value outside a function's contract: a bug in the caller. */
export class InvalidArgumentError extends BazaarRunnerError {
  override name = "InvalidArgumentError";
  constructor(message: string, options?: BazaarRunnerErrorOptions) {
    super("BR_ERR_INVALID_ARGUMENT", message, options);
  }
}

/** Whether `error` is one of the runner's errors (from any copy), with `code` when given. */
export function isBazaarRunnerError(error: unknown, code?: ErrorCode): error is BazaarRunnerError {
  return error instanceof BazaarRunnerError && (code === undefined || error.code === code);
}

/** The code of one of the runner's errors; undefined for anything else. */
export function errorCode(error: unknown): ErrorCode | undefined {
  return error instanceof BazaarRunnerError ? error.code : undefined;
}
