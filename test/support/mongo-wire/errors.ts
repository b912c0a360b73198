/** A BSON document as the server handles it (deserialized with promoted values). */
export type Doc = Record<string, unknown>;

/** Server error codes this stand-in answers with, named as a real server names them. */
export const ErrorCode = {
  InternalError: 1,
  BadValue: 2,
  FailedToParse: 9,
  TypeMismatch: 14,
  IllegalOperation: 20,
  NamespaceNotFound: 26,
  IndexNotFound: 27,
  CursorNotFound: 43,
  NamespaceExists: 48,
  CommandNotFound: 59,
  ImmutableField: 66,
  InvalidOptions: 72,
  InvalidNamespace: 73,
  IndexOptionsConflict: 85,
  IndexKeySpecsConflict: 86,
  InvalidResumeToken: 260,
  ChangeStreamFatalError: 280,
  ChangeStreamHistoryLost: 286,
  DuplicateKey: 11000,
  UnknownField: 40415,
  MissingField: 40414,
  UnrecognizedStage: 40324,
  ChangeStreamNotFirst: 40602,
  ChangeStreamNeedsReplicaSet: 40573,
  ResumeOptionsConflict: 40674,
  StartAfterAndResumeAfter: 50865,
} as const;

const codeNames: Record<number, string> = {
  1: "InternalError",
  2: "BadValue",
  9: "FailedToParse",
  14: "TypeMismatch",
  20: "IllegalOperation",
  26: "NamespaceNotFound",
  27: "IndexNotFound",
  43: "CursorNotFound",
  48: "NamespaceExists",
  59: "CommandNotFound",
  66: "ImmutableField",
  72: "InvalidOptions",
  73: "InvalidNamespace",
  85: "IndexOptionsConflict",
  86: "IndexKeySpecsConflict",
  260: "InvalidResumeToken",
  280: "ChangeStreamFatalError",
  286: "ChangeStreamHistoryLost",
  11000: "DuplicateKey",
};

/** The codeName a real server sends; numbered assertion codes are "Location<code>". */
export function codeName(code: number): string {
  return codeNames[code] ?? `Location${code}`;
}

/** A command failure, answered as `{ ok: 0, errmsg, code, codeName, ...extra }`. */
export class CommandError extends Error {
  readonly code: number;
  readonly extra: Doc;

  constructor(code: number, message: string, extra: Doc = {}) {
    super(message);
    this.name = "CommandError";
    this.code = code;
    this.extra = extra;
  }

  toReply(): Doc {
    return {
      ok: 0,
      errmsg: this.message,
      code: this.code,
      codeName: codeName(this.code),
      ...this.extra,
    };
  }
}

/** Maps an error thrown while evaluating a query or pipeline (often mingo's) to a server error. */
export function asCommandError(
  error: unknown,
  fallbackCode: number = ErrorCode.BadValue,
): CommandError {
  if (error instanceof CommandError) return error;
  const message = error instanceof Error ? error.message : String(error);
  if (/immutable field/i.test(message)) return new CommandError(ErrorCode.ImmutableField, message);
  return new CommandError(fallbackCode, message);
}
