import { describe, expect, it } from "vitest";
import {
  analyseSeries,
  DEFAULT_ANOMALY_PARAMS,
  detectPeriod,
  rollingMedian,
} from "../../../src/agents/tools/anomaly.ts";
import { extractFromText } from "../../../src/agents/tools/inputs.ts";
import { parseSeries } from "../../../src/agents/tools/series.ts";
import { ANOMALY_FIXTURES, gaussian } from "./fixtures.ts";

function analyse(description: string) {
  const { blocks } = extractFromText(description);
  const { series, notes } = parseSeries(blocks);
  return { series, notes, analyses: series.map((s) => analyseSeries(s)) };
}

describe("anomaly tools on customers' jobs", () => {
  for (const fixture of ANOMALY_FIXTURES) {
    it(`${fixture.title}: finds ${fixture.planted.length ? fixture.planted.join(", ") : "nothing"} and nothing else`, () => {
      const { series, analyses } = analyse(fixture.description);
      expect(series.length).toBeGreaterThan(0);
      const flagged = analyses.flatMap((a) => a.anomalies);
      expect(flagged.map((a) => a.at)).toEqual(expect.arrayContaining(fixture.planted));
      // Nothing but the planted points (a spike may appear in a sibling column only if planted).
      expect([...new Set(flagged.map((a) => a.at))].sort()).toEqual([...fixture.planted].sort());
      fixture.kinds?.forEach((kind, i) => {
        expect(flagged.find((a) => a.at === fixture.planted[i])?.kind).toBe(kind);
      });
      for (const a of flagged) {
        expect(a.methods.length).toBeGreaterThan(0);
        expect(a.expectedLow).toBeLessThan(a.expectedHigh);
        expect(["high", "medium", "low"]).toContain(a.severity);
        if (a.kind === "point")
          expect(a.value < a.expectedLow || a.value > a.expectedHigh).toBe(true);
      }
    });
  }

  it("finds the daily season of hourly traffic", () => {
    const fixture = ANOMALY_FIXTURES.find((f) => f.title.startsWith("Seasonal"))!;
    const { analyses } = analyse(fixture.description);
    expect(analyses[0]?.period).toBe(24);
    expect(analyses[0]?.anomalies[0]?.methods.join(" ")).toMatch(/seasonal baseline \(period 24\)/);
  });

  it("reports timestamps from the time column and indexes for bare lists", () => {
    const spikes = analyse(ANOMALY_FIXTURES[0]!.description).analyses[0]!;
    expect(spikes.name).toBe("latency_ms in block-1.csv");
    expect(spikes.anomalies[0]?.at).toMatch(/^2026-03-\d\dT\d\d:00:00$/);
    const list = analyse(
      ANOMALY_FIXTURES.find((f) => f.title === "Outlier in daily orders")!.description,
    );
    expect(list.analyses[0]?.anomalies.map((a) => [a.at, a.value])).toEqual([["44", 612]]);
  });

  it("keeps level shifts sharp and ignores spikes in the rolling median", () => {
    expect(rollingMedian([1, 1, 1, 9, 1, 1, 5, 5, 5, 5], 3)).toEqual([
      1, 1, 1, 1, 1, 1, 5, 5, 5, 5,
    ]);
    const noise = gaussian(5);
    const white = Array.from({ length: 400 }, () => noise());
    expect(detectPeriod(white, DEFAULT_ANOMALY_PARAMS)).toBeNull();
    const weekly = Array.from(
      { length: 140 },
      (_, i) => Math.sin((2 * Math.PI * i) / 7) + 0.1 * noise(),
    );
    expect(detectPeriod(weekly, DEFAULT_ANOMALY_PARAMS)?.period).toBe(7);
  });

  it("says what it left out", () => {
    const { notes, series } = analyse(
      "```csv\nt,a\n2026-01-01,1\n2026-01-02,x\n2026-01-03,2\n2026-01-04,3\n2026-01-05,4\n2026-01-06,5\n2026-01-07,6\n2026-01-08,7\n2026-01-09,8\n2026-01-10,9\n2026-01-11,10\n```",
    );
    expect(series[0]?.values).toHaveLength(10);
    expect(notes.join(" ")).toMatch(/1 non-numeric value/);
  });
});
