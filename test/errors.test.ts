import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { describe, expect, it } from "vitest";
import {
  BazaarRunnerError,
  ERROR_CODES,
  type ErrorCode,
  errorCode,
  InvalidArgumentError,
  isBazaarRunnerError,
} from "../src/errors.ts";
import { LlmError } from "../src/llm/types.ts";
import {
  isMarketplaceError,
  MarketplaceError,
  marketplaceCode,
} from "../src/marketplace/errors.ts";
import { registerSecret } from "../src/secrets.ts";
import { everyCode, everyErrorClass } from "./support/error-samples.ts";

const ROOT = join(import.meta.dirname, "..");

interface DocRow {
  classes: string[];
  retryable: boolean;
  userFacing: boolean;
}

/** The codes table of docs/errors.md, by code. */
function documentedCodes(): Map<string, DocRow> {
  const text = readFileSync(join(ROOT, "docs/errors.md"), "utf8");
  const rows = new Map<string, DocRow>();
  const row = /^\| `(BR_ERR_\w+)` \| ([^|]+) \| (yes|no) \| (yes|no) \| [^|]+ \| [^|]+ \|$/;
  for (const line of text.split("\n")) {
    const match = row.exec(line);
    if (!match) continue;
    const [, code, classes, retryable, userFacing] = match as unknown as string[];
    expect(rows.has(code!), `${code} is listed twice`).toBe(false);
    rows.set(code!, {
      classes: classes!.split(",").map((c) => c.trim().replace(/`/g, "")),
      retryable: retryable === "yes",
      userFacing: userFacing === "yes",
    });
  }
  return rows;
}

/**
 * The module at `path` evaluated once more, as a separate copy: a query string makes it
 * another module to the loader (what a plugin's own install of the package would hold).
 */
async function secondCopy<T>(path: string): Promise<T> {
  const specifier = `${path}?second-copy`;
  return (await import(/* @vite-ignore */ specifier)) as T;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return entry.name.endsWith(".ts") ? [path] : [];
  });
}

describe("the error codes table (docs/errors.md)", () => {
  it("lists exactly the codes defined in src/errors.ts, with their retryable and user-facing values", () => {
    const documented = documentedCodes();
    expect([...documented.keys()].sort()).toEqual(Object.keys(ERROR_CODES).sort());
    for (const [code, info] of Object.entries(ERROR_CODES)) {
      const row = documented.get(code)!;
      expect({ code, retryable: row.retryable, userFacing: row.userFacing }).toEqual({
        code,
        retryable: info.retryable,
        userFacing: info.userFacing,
      });
    }
  });

  it("every error is retryable and user-facing as the table says of its code", () => {
    const documented = documentedCodes();
    for (const error of [...everyCode(), ...everyErrorClass()]) {
      const row = documented.get(error.code);
      expect(row, error.code).toBeDefined();
      expect({
        code: error.code,
        retryable: error.retryable,
        userFacing: error.userFacing,
      }).toEqual({ code: error.code, retryable: row!.retryable, userFacing: row!.userFacing });
    }
  });

  it("names the class of every error class's code, and class names are unique", () => {
    const documented = documentedCodes();
    const samples = everyErrorClass();
    for (const error of samples) {
      expect(error).toBeInstanceOf(BazaarRunnerError);
      expect(error).toBeInstanceOf(Error);
      expect(documented.get(error.code)?.classes, `${error.name} (${error.code})`).toContain(
        error.name,
      );
    }
    const classes = samples.map((e) => e.constructor);
    const names = new Map(classes.map((c) => [c.name, c]));
    expect(new Set(classes).size).toBe(names.size);
  });
});

describe("one error vocabulary in src/", () => {
  it("no class extends Error but the base, and nothing throws a bare Error, TypeError or RangeError", () => {
    const offenders: string[] = [];
    const bare = /throw new (Error|TypeError|RangeError)\(|class \w+ extends Error\b/;
    for (const file of sourceFiles(join(ROOT, "src"))) {
      const name = relative(ROOT, file);
      readFileSync(file, "utf8")
        .split("\n")
        .forEach((line, i) => {
          if (bare.test(line) && name !== join("src", "errors.ts"))
            offenders.push(`${name}:${i + 1}: ${line.trim()}`);
        });
    }
    expect(offenders).toEqual([]);
  });
});

describe("BazaarRunnerError", () => {
  it("carries its code, the code's retryable and user-facing values, and its cause", () => {
    const cause = new Error("socket hang up");
    const error = new BazaarRunnerError("BR_ERR_LEDGER_CONTENTION", "ledger: busy", { cause });
    expect(error).toMatchObject({
      code: "BR_ERR_LEDGER_CONTENTION",
      retryable: true,
      userFacing: false,
      message: "ledger: busy",
    });
    expect(error.cause).toBe(cause);
    expect(isBazaarRunnerError(error)).toBe(true);
    expect(isBazaarRunnerError(error, "BR_ERR_LEDGER_CONTENTION")).toBe(true);
    expect(isBazaarRunnerError(error, "BR_ERR_LEDGER_CLOSED")).toBe(false);
    expect(errorCode(error)).toBe("BR_ERR_LEDGER_CONTENTION");
    expect(errorCode(new Error("plain"))).toBeUndefined();
    expect(isBazaarRunnerError(new TypeError("plain"))).toBe(false);
  });

  it("keeps registered secrets out of its message", () => {
    const secret = "fw_errors-test-secret-0123456789";
    registerSecret(secret);
    const error = new InvalidArgumentError(`bad key ${secret}`);
    expect(error.message).toBe("bad key [REDACTED]");
  });

  it("instanceof asks the subclass, not only the base", () => {
    const market = new MarketplaceError("x", { kind: "network", route: "GET /x", attempts: 1 });
    expect(market instanceof MarketplaceError).toBe(true);
    expect(market instanceof BazaarRunnerError).toBe(true);
    expect(market instanceof LlmError).toBe(false);
    expect(market instanceof InvalidArgumentError).toBe(false);
    expect(new InvalidArgumentError("x") instanceof MarketplaceError).toBe(false);
  });

  it("instanceof holds across two copies of the package's modules", async () => {
    // A second evaluation of each module: what a plugin with its own install of the
    // package, or a bundle, would hold. Different class objects, one brand.
    const other: typeof import("../src/errors.ts") = await secondCopy("../src/errors.ts");
    const otherMarket: typeof import("../src/marketplace/errors.ts") = await secondCopy(
      "../src/marketplace/errors.ts",
    );
    expect(other.BazaarRunnerError).not.toBe(BazaarRunnerError);
    expect(otherMarket.MarketplaceError).not.toBe(MarketplaceError);

    const theirs = new other.InvalidArgumentError("from the other copy");
    expect(theirs instanceof BazaarRunnerError).toBe(true);
    expect(theirs instanceof InvalidArgumentError).toBe(true);
    expect(isBazaarRunnerError(theirs, "BR_ERR_INVALID_ARGUMENT")).toBe(true);
    expect(new InvalidArgumentError("ours") instanceof other.BazaarRunnerError).toBe(true);
    expect(new InvalidArgumentError("ours") instanceof other.InvalidArgumentError).toBe(true);

    const theirMarket = new otherMarket.MarketplaceError("GET /x: answered 404", {
      kind: "http",
      status: 404,
      route: "GET /x",
      attempts: 1,
    });
    expect(theirMarket instanceof MarketplaceError).toBe(true);
    expect(isMarketplaceError(theirMarket, "BR_ERR_MARKETPLACE_NOT_FOUND")).toBe(true);
    expect(theirMarket instanceof InvalidArgumentError).toBe(false);
    expect(new InvalidArgumentError("ours") instanceof otherMarket.MarketplaceError).toBe(false);
  });

  it("a lookalike without the brand is no instance", () => {
    class MarketplaceLookalike extends Error {}
    Object.defineProperty(MarketplaceLookalike, "name", { value: "MarketplaceError" });
    const fake = new MarketplaceLookalike("answered 404");
    expect(fake instanceof MarketplaceError).toBe(false);
    expect(fake instanceof BazaarRunnerError).toBe(false);
    expect(isBazaarRunnerError({ code: "BR_ERR_CONFIG" })).toBe(false);
  });
});

describe("marketplace answers, classified where they are read", () => {
  const byStatus: [number, ErrorCode][] = [
    [400, "BR_ERR_MARKETPLACE_REJECTED"],
    [401, "BR_ERR_MARKETPLACE_UNAUTHORIZED"],
    [403, "BR_ERR_MARKETPLACE_FORBIDDEN"],
    [404, "BR_ERR_MARKETPLACE_NOT_FOUND"],
    [409, "BR_ERR_MARKETPLACE_CONFLICT"],
    [413, "BR_ERR_MARKETPLACE_REJECTED"],
    [422, "BR_ERR_MARKETPLACE_REJECTED"],
    [429, "BR_ERR_MARKETPLACE_RATE_LIMITED"],
    [500, "BR_ERR_MARKETPLACE_SERVER_ERROR"],
    [501, "BR_ERR_MARKETPLACE_SERVER_ERROR"],
    [502, "BR_ERR_MARKETPLACE_UNAVAILABLE"],
    [503, "BR_ERR_MARKETPLACE_UNAVAILABLE"],
    [504, "BR_ERR_MARKETPLACE_UNAVAILABLE"],
  ];

  it("each status has one code; 4xx but 429 is refused for good, 429 and 5xx are retryable", () => {
    for (const [status, code] of byStatus) {
      const error = new MarketplaceError(`GET /x: answered ${status}`, {
        kind: "http",
        status,
        route: "GET /x",
        attempts: 1,
      });
      const refused = status >= 400 && status < 500 && status !== 429;
      expect({
        status,
        code: error.code,
        refused: error.refused,
        retryable: error.retryable,
      }).toEqual({ status, code, refused, retryable: !refused });
      expect(marketplaceCode("http", status)).toBe(code);
      expect(error.isClientError).toBe(refused);
      expect(error.isOutage).toBe(status >= 502);
    }
  });

  it("no answer is an outage; an answer of the wrong shape is not retried", () => {
    for (const kind of ["network", "timeout"] as const) {
      const error = new MarketplaceError("x", { kind, route: "GET /x", attempts: 1 });
      expect(error.code).toBe("BR_ERR_MARKETPLACE_UNAVAILABLE");
      expect(error.isOutage && error.retryable && !error.refused).toBe(true);
    }
    const shape = new MarketplaceError("x", {
      kind: "invalid-response",
      status: 200,
      route: "GET /x",
      attempts: 1,
    });
    expect(shape.code).toBe("BR_ERR_MARKETPLACE_INVALID_RESPONSE");
    expect(shape.retryable).toBe(false);
  });

  it("isMarketplaceError matches a code, or a status for callers that still pass one", () => {
    const error = new MarketplaceError("x", {
      kind: "http",
      status: 404,
      route: "GET /x",
      attempts: 1,
    });
    expect(isMarketplaceError(error, "BR_ERR_MARKETPLACE_NOT_FOUND")).toBe(true);
    expect(isMarketplaceError(error, "BR_ERR_MARKETPLACE_FORBIDDEN")).toBe(false);
    expect(isMarketplaceError(error, 404)).toBe(true);
    expect(isMarketplaceError(new InvalidArgumentError("x"))).toBe(false);
  });
});
