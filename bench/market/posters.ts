/**
 * The posters' side of the simulated market: the award rule, the deliverable our agent
 * is simulated to write (no LLM is called), and the posters' own rubric for it.
 */
import { seededRandom } from "../../src/runner/policy/price-learning.ts";
import type { MarketJob } from "./world.ts";

export interface OfferedBid {
  bidId: string;
  priceUsd: number;
  confidence: number;
}

/**
 * The poster's award: among the bids at or under its hidden limit, the best confidence per
 * dollar (the earliest wins a tie, as the embedded marketplace's auto-award does); none
 * when every bid is above the limit.
 */
export function award(bids: readonly OfferedBid[], limitUsd: number): OfferedBid | undefined {
  let best: OfferedBid | undefined;
  let bestRatio = Number.NEGATIVE_INFINITY;
  for (const bid of bids) {
    if (bid.priceUsd > limitUsd + 1e-9) continue;
    const ratio = bid.priceUsd > 0 ? bid.confidence / bid.priceUsd : Number.POSITIVE_INFINITY;
    if (ratio > bestRatio) {
      best = bid;
      bestRatio = ratio;
    }
  }
  return best;
}

/**
 * The deliverable of our agent for a job, simulated: each asked item is covered with the
 * agent's skill in the class (its capability score, less for longer asks), and the asked
 * format is used nine times in ten. Drawn from the job's own seed: the fixed and the
 * adaptive runner deliver the same text for the same job, whatever they bid.
 */
export function simulatedDeliverable(job: MarketJob, skill: number): string {
  const random = seededRandom(job.workSeed);
  const coverChance = skill - 0.04 * job.asked.length;
  const covered = job.asked.filter(() => random() < coverChance);
  const formatted = random() < 0.9 ? job.format : job.format === "json" ? "list" : "json";
  const findings = covered.map((item, i) => ({ item, note: `finding ${i + 1} on ${item}` }));
  if (formatted === "json") return JSON.stringify({ summary: job.title, findings }, null, 2);
  if (formatted === "table")
    return [
      `## ${job.title}`,
      "| item | finding |",
      "| --- | --- |",
      ...findings.map((f) => `| ${f.item} | ${f.note} |`),
    ].join("\n");
  return [`## ${job.title}`, ...findings.map((f, i) => `${i + 1}. ${f.item}: ${f.note}`)].join(
    "\n",
  );
}

/** The format a deliverable is written in, as a poster sees it. */
function formatOf(output: string): MarketJob["format"] {
  try {
    JSON.parse(output);
    return "json";
  } catch {
    return /^\|.*\|$/m.test(output) ? "table" : "list";
  }
}

/**
 * The poster's rubric, 0..1 in hundredths: three quarters for the asked items the
 * deliverable covers, a quarter for the asked format, less the shortfall of the coverage
 * below what this poster expects.
 */
export function rubricScore(job: MarketJob, output: string): number {
  const text = output.toLowerCase();
  const coverage = job.asked.filter((item) => text.includes(item)).length / job.asked.length;
  const format = formatOf(output) === job.format ? 1 : 0;
  const shortfall = Math.max(0, job.poster.expectation - coverage);
  const score = 0.75 * coverage + 0.25 * format - 0.5 * shortfall;
  return Math.round(Math.min(1, Math.max(0, score)) * 100) / 100;
}
