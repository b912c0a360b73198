/** Why a marketplace call failed. */
export type MarketplaceErrorKind =
  | "http" // the service answered with an error status
  | "network" // connection refused, reset, DNS
  | "timeout" // no answer in time
  | "invalid-response"; // the answer was not JSON, or not of the contract's shape

/** A failed marketplace call. The message is one line, safe to log. */
export class MarketplaceError extends Error {
  override name = "MarketplaceError";
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
    },
  ) {
    super(message, { cause: options.cause });
    this.kind = options.kind;
    this.route = options.route;
    this.status = options.status;
    this.detail = options.detail;
    this.attempts = options.attempts;
  }

  /** A 4xx other than 429: the request itself was refused, and retrying will not help. */
  get isClientError(): boolean {
    return (
      this.kind === "http" &&
      this.status !== undefined &&
      this.status >= 400 &&
      this.status < 500 &&
      this.status !== 429
    );
  }
}

export function isMarketplaceError(error: unknown, status?: number): error is MarketplaceError {
  return error instanceof MarketplaceError && (status === undefined || error.status === status);
}
