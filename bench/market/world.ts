/**
 * The simulated market's world, drawn from one seed: each job's class, text, budget, its
 * poster's hidden willingness to pay and strictness, and the competing bids on it. Pure:
 * the fixed and the adaptive runner see exactly the same world, job by job.
 */
import { seededRandom } from "../../src/runner/policy/price-learning.ts";

/** Who bids on a class, and what its work usually fetches. */
export interface ClassProfile {
  /** The capability the job requires (the learner's job class). */
  capability: string;
  /** The built-in agent type of ours that bids on it. */
  agentType: "code_reviewer" | "schema_architect" | "anomaly_hunter";
  /**
   * The going rate of the class's work in this market, USD: budgets, willingness to pay and
   * the competitors' prices are drawn around it. Set without looking at our agents' base
   * rates; the fixed formula's price is above some and below others, as happens in a market.
   */
  goingRateUsd: number;
  /** The competitors who may bid on a job of the class (each present with probability 0.8). */
  competitors: readonly CompetitorStyle[];
  /** The items a job of the class asks to be covered, and their words in the job's text. */
  topics: readonly string[];
  /** Words that make the job text one of ours (our keyword evaluator matches them). */
  lead: string;
}

export type CompetitorStyle = "undercutter" | "steady" | "overpricer";

/** Each style's price (× the going rate) and confidence ranges. */
export const STYLES: Record<
  CompetitorStyle,
  { price: [number, number]; confidence: [number, number] }
> = {
  undercutter: { price: [0.55, 0.85], confidence: [0.55, 0.75] },
  steady: { price: [0.9, 1.2], confidence: [0.7, 0.85] },
  overpricer: { price: [1.3, 1.8], confidence: [0.85, 0.95] },
};

/**
 * The market's five classes. Crowded classes have undercutters; premium ones have
 * competitors who price high. Going rates: what the work fetches, not what our agents ask.
 */
export const CLASSES: readonly ClassProfile[] = [
  {
    capability: "code_review",
    agentType: "code_reviewer",
    goingRateUsd: 0.035,
    competitors: ["undercutter", "undercutter", "steady"],
    lead: "Code review of a pull request",
    topics: [
      "sql injection",
      "xss",
      "race condition",
      "resource leak",
      "n+1 query",
      "error handling",
    ],
  },
  {
    capability: "security_analysis",
    agentType: "code_reviewer",
    goingRateUsd: 0.1,
    competitors: ["steady", "overpricer"],
    lead: "Security audit of the service (OWASP)",
    topics: [
      "csrf",
      "ssrf",
      "path traversal",
      "hardcoded credentials",
      "session fixation",
      "authorization",
    ],
  },
  {
    capability: "schema_design",
    agentType: "schema_architect",
    goingRateUsd: 0.06,
    competitors: ["undercutter", "steady", "overpricer"],
    lead: "Database schema and OpenAPI spec design",
    topics: [
      "primary keys",
      "indexes",
      "foreign keys",
      "pagination",
      "versioning",
      "error responses",
    ],
  },
  {
    capability: "anomaly_detection",
    agentType: "anomaly_hunter",
    goingRateUsd: 0.14,
    competitors: ["steady", "overpricer", "overpricer"],
    lead: "Anomaly detection on a metrics time series",
    topics: ["seasonality", "change point", "z-score", "missing data", "spikes", "drift"],
  },
  {
    capability: "pattern_recognition",
    agentType: "anomaly_hunter",
    goingRateUsd: 0.05,
    competitors: ["undercutter", "undercutter", "steady"],
    lead: "Outlier detection and pattern analysis of sensor data",
    topics: ["clusters", "outliers", "trend", "periodicity", "correlation", "noise"],
  },
];

export interface CompetitorBid {
  /** Index into the market's competitor agents (one per style and class). */
  style: CompetitorStyle;
  priceUsd: number;
  confidence: number;
}

export interface MarketJob {
  index: number;
  profile: ClassProfile;
  title: string;
  description: string;
  budgetUsd: number;
  /** The items the poster asks to be covered, and the format asked for. */
  asked: string[];
  format: "table" | "list" | "json";
  poster: {
    id: string;
    /** Hidden: the most the poster pays; bids above are never chosen. */
    limitUsd: number;
    /** Hidden: 0..1, how much of what was asked the poster expects covered. */
    expectation: number;
  };
  competitors: CompetitorBid[];
  /** The seed of this job's deliverable (the same for both runners). */
  workSeed: string;
}

const between = (random: () => number, [lo, hi]: readonly [number, number]) =>
  lo + (hi - lo) * random();
const mil = (usd: number) => Math.round(usd * 1000) / 1000;

/** Job `index` of the world `seed`. */
export function marketJob(
  seed: string,
  index: number,
  posters: number,
  /** Another market's going rate of a class (the calibrated market's). */
  goingRate: (profile: ClassProfile) => number = (p) => p.goingRateUsd,
): MarketJob {
  const random = seededRandom(`${seed}|job|${index}`);
  const profile = CLASSES[Math.floor(random() * CLASSES.length)] as ClassProfile;
  const rate = goingRate(profile);
  const budgetUsd = mil(rate * between(random, [1.3, 2.5]));
  const count = 3 + Math.floor(random() * 3);
  const shuffled = [...profile.topics].sort(() => random() - 0.5);
  const asked = shuffled.slice(0, count);
  const format = (["table", "list", "json"] as const)[Math.floor(random() * 3)] ?? "list";
  const posterIndex = Math.floor(random() * posters);
  const competitors: CompetitorBid[] = [];
  for (const style of profile.competitors) {
    if (random() >= 0.8) continue;
    const s = STYLES[style];
    competitors.push({
      style,
      priceUsd: Math.min(budgetUsd, mil(rate * between(random, s.price))),
      confidence: Math.round(between(random, s.confidence) * 100) / 100,
    });
  }
  return {
    index,
    profile,
    title: `${profile.lead} #${index}`,
    description:
      `${profile.lead}. Please cover: ${asked.join(", ")}. ` +
      `Answer as a ${format === "json" ? "JSON document" : format === "table" ? "markdown table" : "numbered list"}.`,
    budgetUsd,
    asked,
    format,
    poster: {
      id: `poster-${posterIndex}`,
      limitUsd: Math.min(budgetUsd, mil(rate * between(random, [0.8, 1.6]))),
      expectation: Math.round(between(random, [0.5, 0.9]) * 100) / 100,
    },
    competitors,
    workSeed: `${seed}|work|${index}`,
  };
}
