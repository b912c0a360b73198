import { BazaarRunnerError } from "../errors.ts";

/** An error answered as `{"detail": message}` with its status, as FastAPI's HTTPException. */
export class ApiError extends BazaarRunnerError {
  override name = "ApiError";
  readonly statusCode: number;
  readonly headers: Record<string, string>;

  constructor(statusCode: number, detail: string, headers: Record<string, string> = {}) {
    super("BR_ERR_SERVER_API", detail);
    this.statusCode = statusCode;
    this.headers = headers;
  }
}

/** One entry of FastAPI's 422 `detail` list. */
export interface ValidationItem {
  type: string;
  loc: (string | number)[];
  msg: string;
  input: unknown;
  ctx?: Record<string, unknown>;
}

/** A request that failed validation; answered 422 with `{"detail": [...]}`. */
export class RequestValidationError extends BazaarRunnerError {
  override name = "RequestValidationError";
  readonly detail: ValidationItem[];

  constructor(detail: ValidationItem[]) {
    super("BR_ERR_SERVER_VALIDATION", detail.map((d) => `${d.loc.join(".")}: ${d.msg}`).join("; "));
    this.detail = detail;
  }
}

export const notFound = (what: string): ApiError => new ApiError(404, `${what} not found`);
export const badRequest = (detail: string): ApiError => new ApiError(400, detail);

/**
 * What the real service fails on with an unhandled exception: answered as its bare 500
 * (`Internal Server Error`, plain text), with the reason in our log, not in the answer.
 */
export class InternalError extends BazaarRunnerError {
  override name = "InternalError";
  constructor(reason: string) {
    super("BR_ERR_SERVER_INTERNAL", reason);
  }
}
