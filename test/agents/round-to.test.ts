import fc from "fast-check";
import { afterEach, describe, expect, it, vi } from "vitest";
import { ANOMALY_HUNTER_KEYWORDS } from "../../src/agents/anomaly-hunter/keywords.ts";
import { CODE_REVIEWER_KEYWORDS } from "../../src/agents/code-reviewer/keywords.ts";
import { roundTo, usd, usdOfRounded } from "../../src/agents/keyword-evaluator.ts";
import { SCHEMA_ARCHITECT_KEYWORDS } from "../../src/agents/schema-architect/keywords.ts";

/**
 * roundTo decides the values near a half without `toPrecision` (issue 26, point 2): it
 * must give what the string form gave on every value, and take the string form on none
 * of the values a decision makes.
 */

/** roundTo before issue 26: near a half, through 12 significant digits as a string. */
function roundToByString(value: number, decimals: number): number {
  const factor = 10 ** decimals;
  const scaled = value * factor;
  const fromHalf = Math.abs(scaled - Math.floor(scaled) - 0.5);
  if (fromHalf > 1e-9 * Math.max(1, Math.abs(scaled))) return Math.round(scaled) / factor;
  return Math.round(Number(scaled.toPrecision(12))) / factor;
}

/** Whether roundTo and the string form agree (Object.is: NaN and -0 too). */
const same = (value: number, decimals: number): boolean =>
  Object.is(roundTo(value, decimals), roundToByString(value, decimals));

/** Half a unit of the 12th significant digit of x (x > 0), as toPrecision(12) rounds. */
function halfUnit(x: number): number {
  return 5 * 10 ** (Math.floor(Math.log10(x)) - 12);
}

/** Every confidence and bid the formula can make from these weights, rates and budgets. */
function formulaValues(weights: number[], rates: number[], budgets: number[]): [number, number][] {
  const out: [number, number][] = [];
  for (const weight of weights) {
    for (let matches = 1; matches <= 5; matches++) {
      const uncapped = 0.5 + 0.3 * weight + 0.03 * matches;
      for (const boost of [0, 0.05, 0.1]) {
        const raw = Math.min(0.95, uncapped + boost);
        out.push([raw, 2]);
        const confidence = roundToByString(raw, 2);
        for (const rate of rates) {
          for (const budget of budgets) {
            out.push([Math.min(rate * (1 + 0.5 * confidence), 0.85 * budget), 3]);
          }
        }
      }
    }
  }
  return out;
}

describe("roundTo equals the string form it replaced", () => {
  afterEach(() => vi.restoreAllMocks());

  it("on any double, at 0 to 4 decimals", () => {
    fc.assert(
      fc.property(fc.double(), fc.integer({ min: 0, max: 4 }), (value, decimals) =>
        same(value, decimals),
      ),
      { numRuns: 20_000 },
    );
  });

  it("on values within a few units of the 12th digit of a half (where the two could differ)", () => {
    const nearHalf = fc
      .tuple(
        // Every decade alike: k from 0–9, 10–99, … up to 10^8 − 1.
        fc
          .integer({ min: 0, max: 8 })
          .chain((digits) =>
            fc.integer({ min: digits === 0 ? 0 : 10 ** (digits - 1), max: 10 ** digits - 1 }),
          ),
        fc.constantFrom(2, 3),
        // Units of that half unit away from the half; ±1 is the boundary itself.
        fc.oneof(fc.double({ min: -3, max: 3, noNaN: true }), fc.constantFrom(-1, 1)),
        fc.integer({ min: -4, max: 4 }),
      )
      .map(([k, decimals, units, ulps]) => {
        const half = k + 0.5;
        let scaled = half + units * halfUnit(half);
        // Step a few doubles either way: the boundary itself is between two of them.
        for (let i = 0; i < Math.abs(ulps); i++) scaled = nextDouble(scaled, Math.sign(ulps));
        return [scaled / 10 ** decimals, decimals] as const;
      });
    fc.assert(
      fc.property(nearHalf, ([value, decimals]) => same(value, decimals)),
      { numRuns: 50_000 },
    );
  });

  it("on every value the formula makes from the built-in tables and from weights in thousandths", () => {
    const builtIn = [
      ...Object.values(SCHEMA_ARCHITECT_KEYWORDS),
      ...Object.values(ANOMALY_HUNTER_KEYWORDS),
      ...Object.values(CODE_REVIEWER_KEYWORDS),
    ];
    const thousandths = Array.from({ length: 1001 }, (_, i) => i / 1000);
    const rates = [0.03, 0.04, 0.05, 0.01, 0.1, 0.25, 1, 2.5];
    const budgets = [0.01, 0.05, 0.1, 0.5, 1, 2, 3, 4, 5, 100];
    const spy = vi.spyOn(Number.prototype, "toPrecision");
    const values = formulaValues([...new Set([...builtIn, ...thousandths])], rates, budgets);
    const reference = values.map(([value, decimals]) => roundToByString(value, decimals));
    const stringForms = spy.mock.calls.length;
    expect(stringForms).toBeGreaterThan(1000); // most of them are halves
    values.forEach(([value, decimals], i) => {
      expect(Object.is(roundTo(value, decimals), reference[i])).toBe(true);
    });
    // ... and none of them takes the string form now.
    expect(spy.mock.calls.length).toBe(stringForms);
  });

  it("keeps the examples of binary artefacts", () => {
    expect(roundTo(0.815, 2)).toBe(0.82);
    expect(roundTo(0.935, 2)).toBe(0.94);
    expect(roundTo(0.0715, 3)).toBe(0.072);
  });
});

describe("usdOfRounded writes what usd writes, for amounts rounded to 3 decimals", () => {
  it("on thousandths from $0.001 to a trillion dollars", () => {
    const thousandths = fc.oneof(
      fc.integer({ min: 1, max: 100_000 }),
      fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }),
    );
    fc.assert(
      fc.property(thousandths, (n) => {
        const amount = roundTo(n / 1000, 3);
        expect(usdOfRounded(amount)).toBe(usd(amount));
      }),
      { numRuns: 20_000 },
    );
    for (let n = 1; n <= 10_000; n++) expect(usdOfRounded(n / 1000)).toBe(usd(n / 1000));
  });
});

/** The next double after x towards +∞ (direction 1) or −∞ (−1), for finite positive x. */
function nextDouble(x: number, direction: number): number {
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, x);
  view.setBigUint64(0, view.getBigUint64(0) + BigInt(direction));
  return view.getFloat64(0);
}
