import { BazaarRunnerError, type ErrorCode } from "../errors.ts";

/** Why a marketplace call failed, by how it failed. */
export type MarketplaceErrorKind =
  | "http" // the service answered with an error status
  | "network" // connection refused, reset, DNS
  | "timeout" // no answer in time
  | "invalid-response"; // the answer was not JSON, or not of the contract's shape

/** What a failed call means to its caller: the classification every caller uses. */
export type MarketplaceCode = Extract<
  ErrorCode,
  `BR_ERR_MARKETPLACE_${string}` | "BR_ERR_BODY_TOO_LARGE"
>;

/** The statuses of a marketplace away (a proxy or load balancer answering for it). */
const OUTAGE_STATUSES = new Set([502, 503, 504]);

/**
 * The one reading of a marketplace answer's status (or of no answer). Every 4xx but 429
 * is refused for good; 429, 5xx and no answer are worth another try later.
 */
export function marketplaceCode(kind: MarketplaceErrorKind, status?: number): MarketplaceCode {
  if (kind === "network" || kind === "timeout") return "BR_ERR_MARKETPLACE_UNAVAILABLE";
  if (kind === "invalid-response") return "BR_ERR_MARKETPLACE_INVALID_RESPONSE";
  if (status === undefined) return "BR_ERR_MARKETPLACE_UNAVAILABLE";
  if (OUTAGE_STATUSES.has(status)) return "BR_ERR_MARKETPLACE_UNAVAILABLE";
  if (status >= 500) return "BR_ERR_MARKETPLACE_SERVER_ERROR";
  switch (status) {
    case 401:
      return "BR_ERR_MARKETPLACE_UNAUTHORIZED";
    case 403:
      return "BR_ERR_MARKETPLACE_FORBIDDEN";
    case 404:
      return "BR_ERR_MARKETPLACE_NOT_FOUND";
    case 409:
      return "BR_ERR_MARKETPLACE_CONFLICT";
    case 429:
      return "BR_ERR_MARKETPLACE_RATE_LIMITED";
    default:
      return "BR_ERR_MARKETPLACE_REJECTED";
  }
}

/** The codes of a request the service refused: sending it again will not help. */
const REFUSED: ReadonlySet<ErrorCode> = new Set<MarketplaceCode>([
  "BR_ERR_MARKETPLACE_UNAUTHORIZED",
  "BR_ERR_MARKETPLACE_FORBIDDEN",
  "BR_ERR_MARKETPLACE_NOT_FOUND",
  "BR_ERR_MARKETPLACE_CONFLICT",
  "BR_ERR_MARKETPLACE_REJECTED",
]);

/** A failed marketplace call. The message is one line, safe to log. */
export class MarketplaceError extends BazaarRunnerError {
  override name = "MarketplaceError";
  override readonly code: MarketplaceCode;
  readonly kind: MarketplaceErrorKind;
  readonly route: string;
  /** HTTP status, for kind "http". */
  readonly status: number | undefined;
  /** The service's `detail`, when it gave one as a string. */
  readonly detail: string | undefined;
  readonly attempts: number;

  constructor(
    message: string,
    options: {
      kind: MarketplaceErrorKind;
      route: string;
      status?: number;
      detail?: string;
      attempts: number;
      cause?: unknown;
      /** When the kind and status do not say it all (an unreadable body, one too large). */
      code?: MarketplaceCode;
    },
  ) {
    const code = options.code ?? marketplaceCode(options.kind, options.status);
    super(code, message, { cause: options.cause });
    this.code = code;
    this.kind = options.kind;
    this.route = options.route;
    this.status = options.status;
    this.detail = options.detail;
    this.attempts = options.attempts;
  }

  /** The request itself was refused (a 4xx other than 429): retrying will not help. */
  get refused(): boolean {
    return REFUSED.has(this.code);
  }

  /** The same as `refused` (its older name). */
  get isClientError(): boolean {
    return this.refused;
  }

  /** The marketplace itself is away (no answer, or a gateway's 502/503/504), not one request refused. */
  get isOutage(): boolean {
    return this.code === "BR_ERR_MARKETPLACE_UNAVAILABLE";
  }
}

/**
 * Whether `error` is a MarketplaceError; with `code`, of that code (a number is the
 * HTTP status, for callers not yet moved to codes).
 */
export function isMarketplaceError(
  error: unknown,
  code?: MarketplaceCode | number,
): error is MarketplaceError {
  if (!(error instanceof MarketplaceError)) return false;
  if (code === undefined) return true;
  return typeof code === "number" ? error.status === code : error.code === code;
}
