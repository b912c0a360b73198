import { describe, expect, it } from "vitest";
import { parseRegexBudgetTrace } from "./regex-budget.ts";

describe("V8's regular-expression trace", () => {
  it("reads the sources V8 condemned or could not budget, internalized (#) or quoted", () => {
    const trace = [
      "Experimental execution (oneshot) of regexp 0x2efd3eb2a6c9 <String[6]: #(a+)+b>",
      'Experimental execution (oneshot) of regexp 0x11b771d61691 <String[9]: "^\\\\s*x\\\\d">',
      "Pattern not supported by experimental engine: 0x075f296d4419 <String[14]: #^(true|false)$>",
      "Pattern not supported by experimental engine: 0x075f296d4419 <String[14]: #^(true|false)$>",
      "an unrelated line",
    ].join("\n");
    expect(parseRegexBudgetTrace(trace)).toEqual({
      overBudget: ["(a+)+b", "^\\s*x\\d"],
      unchecked: ["^(true|false)$"],
    });
  });
});
