/**
 * A market to prove that prices that learn earn more (issue 25). The embedded marketplace
 * runs in-process on loopback; poster bots post jobs with a hidden limit (willingness to
 * pay) and a hidden expectation; competing bidders undercut, bid steadily or overprice
 * around each class's going rate. Each job is posted twice, once for a runner pricing
 * with today's fixed formula and once for a runner pricing adaptively: the same job, the
 * same poster, the same competitors, in the same run and from the same seed.
 *
 * Real: the marketplace (HTTP, every bid, award, result and sign-off), the runner's
 * client, the executors' evaluation, the bid decision, the price floor, `learnedBid` and
 * `priceBid`, the outcome records in the SQLite ledger, the service's payment rule (the
 * payment read back from the job). Simulated: the posters and competitors (world.ts,
 * posters.ts), the deliverable (no LLM is called; its text is drawn from the job's seed,
 * the same for both runners) and the LLM cost (the floor's estimate of the job's tokens).
 * Left out: counter-offers (these posters never counter), the poll loop and the runner's
 * process (the pricing units are called directly, one job at a time, so that the order of
 * learning is the seed's). Halfway, both runners' ledgers are closed and opened again (a
 * restart): the adaptive runner goes on from what its ledger holds.
 *
 *   npm run bench:market -- [--jobs 2000] [--seed market-1] [--posters 40]
 *                           [--exploration 0.1] [--prior 0.5] [--grid 0.6,0.7,…]
 *                           [--market going-rates|calibrated]
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { Agent } from "undici";
import { BUILTIN_AGENTS } from "../src/agents/builtin.ts";
import { MarketplaceClient } from "../src/marketplace/client.ts";
import { NegotiationApi } from "../src/marketplace/negotiation-api.ts";
import type { PricingMode } from "../src/runner/bidding/agent-pricing.ts";
import { expectedPayment } from "../src/runner/policy/payment-rule.ts";
import { applyFloor } from "../src/runner/policy/price-floor.ts";
import {
  DEFAULT_LEARNER,
  type LearnerSettings,
  paidShare,
  priceAt,
} from "../src/runner/policy/price-learning.ts";
import { type OurBid, OurRunner } from "./market/our-runner.ts";
import { award, rubricScore, simulatedDeliverable } from "./market/posters.ts";
import { CLASSES, type ClassProfile, type MarketJob, marketJob, STYLES } from "./market/world.ts";
import { startCountingMarketplace } from "./support/market.ts";

const { values } = parseArgs({
  options: {
    jobs: { type: "string", default: "2000" },
    seed: { type: "string", default: "market-1" },
    posters: { type: "string", default: "40" },
    exploration: { type: "string", default: String(DEFAULT_LEARNER.exploration) },
    prior: { type: "string", default: String(DEFAULT_LEARNER.prior) },
    grid: { type: "string", default: DEFAULT_LEARNER.grid.join(",") },
    market: { type: "string", default: "going-rates" },
  },
});
const JOBS = Number(values.jobs);
const SEED = values.seed;
const POSTERS = Number(values.posters);
/**
 * `going-rates`: each class's work fetches its own going rate (world.ts), above our
 * agents' fixed price in some classes and below in others. `calibrated`: every class's
 * going rate is its agent's fixed price (base rate × 1.45, the formula at confidence
 * 0.9): the market where the fixed formula is already right.
 */
const MARKET = values.market;
if (MARKET !== "going-rates" && MARKET !== "calibrated")
  throw new Error("--market is going-rates or calibrated");
const BASE_RATES: Record<string, number> = Object.fromEntries(
  BUILTIN_AGENTS.map((a) => [a.agentType, a.defaults.base_rate_usd]),
);
const goingRate = (profile: ClassProfile) =>
  MARKET === "calibrated" ? (BASE_RATES[profile.agentType] ?? 0) * 1.45 : profile.goingRateUsd;
const LEARNER: LearnerSettings = {
  ...DEFAULT_LEARNER,
  exploration: Number(values.exploration),
  prior: Number(values.prior),
  grid: values.grid.split(",").map(Number),
  seed: SEED,
};
/** The simulated clock: one job a minute, so the ledger's newest-first order is the run's. */
const START = Date.parse("2026-12-01T00:00:00Z");

const wallet = (tag: number, i: number) =>
  `0x${tag.toString(16).padStart(2, "0")}${i.toString(16).padStart(38, "0")}`;

interface Tally {
  bids: number;
  won: number;
  paidUsd: number;
  costUsd: number;
  qualitySum: number;
  belowFloor: number;
}
const tally = (): Tally => ({
  bids: 0,
  won: 0,
  paidUsd: 0,
  costUsd: 0,
  qualitySum: 0,
  belowFloor: 0,
});

/** What hindsight needs of one job: our agent's decision inputs and the job's quality. */
interface Hindsight {
  job: MarketJob;
  fixedPriceUsd: number;
  floorUsd: number;
  costUsd: number;
  confidence: number;
  quality: number;
}

async function main(): Promise<void> {
  const { market, counts, url } = await startCountingMarketplace();
  const dispatcher = new Agent({ connections: 8 });
  const client = new MarketplaceClient({ baseUrl: url, dispatcher, timeoutMs: 30_000 });
  const negotiation = new NegotiationApi(client.transport);
  const started = performance.now();
  const dir = mkdtempSync(join(tmpdir(), "bench-market-"));
  try {
    // Competitors: one agent per class and style.
    const competitorIds = new Map<string, string>();
    let n = 0;
    for (const profile of CLASSES)
      for (const style of Object.keys(STYLES)) {
        const answer = await client.registerAgent({
          name: `${style}-${profile.capability}`,
          description: `A ${style} bidder on ${profile.capability}`,
          owner_id: "bench-competitors",
          wallet_address: wallet(1, n++),
          capabilities: { [profile.capability]: 0.9 },
          skip_benchmark: true,
        });
        competitorIds.set(`${profile.capability}/${style}`, answer.agent_id);
      }
    const runners: Record<PricingMode, OurRunner> = {
      fixed: new OurRunner("fixed", client, LEARNER, join(dir, "fixed.sqlite")),
      adaptive: new OurRunner("adaptive", client, LEARNER, join(dir, "adaptive.sqlite")),
    };
    await runners.fixed.register((i) => wallet(2, i));
    await runners.adaptive.register((i) => wallet(3, i));

    const tallies: Record<PricingMode, Tally> = { fixed: tally(), adaptive: tally() };
    const byClass: Record<PricingMode, Map<string, Tally>> = {
      fixed: new Map(),
      adaptive: new Map(),
    };
    const hindsight: Hindsight[] = [];
    let mismatches = 0;

    /** One job for one runner: posted, bid on, awarded, delivered and signed off. */
    const playJob = async (mode: PricingMode, world: MarketJob, at: Date) => {
      const runner = runners[mode];
      const posted = await client.postJob({
        title: world.title,
        description: world.description,
        required_capabilities: [world.profile.capability],
        budget_usd: world.budgetUsd,
        poster_id: world.poster.id,
        poster_wallet: wallet(4, world.index % POSTERS),
      });
      const jobId = posted.job_id;
      const offered: { bidId: string; priceUsd: number; confidence: number }[] = [];
      for (const c of world.competitors) {
        const agentId = competitorIds.get(`${world.profile.capability}/${c.style}`) ?? "";
        const answer = await client.placeBid(jobId, {
          agent_id: agentId,
          price_usd: c.priceUsd,
          estimated_quality: c.confidence,
          estimated_time_seconds: 600,
          approach_summary: `${c.style} offer`,
        });
        offered.push({ bidId: answer.bid_id, ...c });
      }
      const listed = await client.getJob(jobId);
      const ours: OurBid | undefined = await runner.bid(world, listed, at);
      const t = tallies[mode];
      const tc = byClass[mode].get(world.profile.capability) ?? tally();
      byClass[mode].set(world.profile.capability, tc);
      if (!ours) return undefined;
      t.bids++;
      tc.bids++;
      if (ours.priceUsd < ours.floor.floorUsd) {
        t.belowFloor++;
        tc.belowFloor++;
      }
      // The poster reads the bids from the marketplace and awards by its rule.
      const withBids = await client.getJob(jobId);
      const chosen = award(
        withBids.bids
          .filter((b) => b.status === "pending")
          .map((b) => ({
            bidId: b.bid_id,
            priceUsd: b.price_usd,
            confidence: b.confidence ?? 0,
          })),
        world.poster.limitUsd,
      );
      if (chosen) await client.selectBid(jobId, chosen.bidId);
      if (chosen?.bidId !== ours.bidId) {
        await runner.ledger.noteOutcome(ours.agentId, jobId, { result: "lost" });
        return { ours, quality: undefined };
      }
      await runner.ledger.noteOutcome(ours.agentId, jobId, { result: "won" });
      const output = simulatedDeliverable(world, runnerSkill(world) ?? 0.9);
      await client.submitResult(jobId, { success: true, output, executed_by: ours.agentId });
      // The poster rates what was delivered, from the marketplace's copy.
      const delivered = await client.getJob(jobId);
      const quality = rubricScore(world, delivered.result?.output ?? "");
      await negotiation.complete(jobId, quality);
      const signedOff = await client.getJob(jobId);
      const paid = expectedPayment(signedOff)?.amountUsd ?? 0;
      const cost = ours.floor.costUsd;
      await runner.ledger.noteOutcome(ours.agentId, jobId, {
        qualityScore: quality,
        paidUsd: paid,
        llmCostUsd: cost,
      });
      t.won++;
      tc.won++;
      t.paidUsd += paid;
      tc.paidUsd += paid;
      t.costUsd += cost;
      tc.costUsd += cost;
      t.qualitySum += quality;
      tc.qualitySum += quality;
      return { ours, quality };
    };

    // Every agent heartbeats once a minute, as runners do: the marketplace takes an agent
    // silent for 5 minutes offline and cancels its bids.
    const everyAgent = [
      ...competitorIds.values(),
      ...AGENT_TYPES.flatMap(({ agentType }) => [
        runners.fixed.agentIdOf(agentType),
        runners.adaptive.agentIdOf(agentType),
      ]),
    ];
    let beatAt = performance.now();
    const paired = { n: 0, fixed: 0, adaptive: 0 };
    for (let i = 0; i < JOBS; i++) {
      if (performance.now() - beatAt > 60_000) {
        beatAt = performance.now();
        for (const agentId of everyAgent) await client.heartbeat(agentId, { status: "available" });
      }
      // Halfway, both runners restart: what the adaptive one learned must come back from its ledger.
      if (i === Math.floor(JOBS / 2)) {
        await runners.fixed.restart();
        await runners.adaptive.restart();
      }
      const world = marketJob(SEED, i, POSTERS, goingRate);
      const at = new Date(START + i * 60_000);
      const [fixed, adaptive] = await Promise.all([
        playJob("fixed", world, at),
        playJob("adaptive", world, at),
      ]);
      if (fixed?.quality !== undefined && adaptive?.quality !== undefined) {
        paired.n++;
        paired.fixed += fixed.quality;
        paired.adaptive += adaptive.quality;
      }
      if (fixed?.ours) {
        const quality =
          fixed.quality ??
          rubricScore(world, simulatedDeliverable(world, runnerSkill(world) ?? 0.9));
        hindsight.push({
          job: world,
          fixedPriceUsd: fixed.ours.basis.fixedPriceUsd,
          floorUsd: fixed.ours.floor.floorUsd,
          costUsd: fixed.ours.floor.costUsd,
          confidence: fixed.ours.confidence,
          quality,
        });
        // The pure replay of the fixed runner's job must agree with what the market did.
        const replay = profitAt(hindsight[hindsight.length - 1] as Hindsight, 1);
        const actual = fixed.quality === undefined ? 0 : 1;
        if ((replay.won ? 1 : 0) !== actual) mismatches++;
      }
      if ((i + 1) % 500 === 0)
        process.stderr.write(
          `${i + 1} jobs, ${((performance.now() - started) / 1000).toFixed(0)} s\n`,
        );
    }
    report(tallies, byClass, hindsight, mismatches, counts.total, performance.now() - started);
    console.log(
      `Mean quality on the ${paired.n} jobs both runners won: fixed ${(paired.fixed / paired.n).toFixed(3)}, adaptive ${(paired.adaptive / paired.n).toFixed(3)}`,
    );
    const learned = await runners.adaptive.ledger.outcomes(
      runners.adaptive.agentIdOf("code_reviewer"),
      5000,
    );
    console.log(
      `The adaptive CodeReviewer's outcome records in its ledger (after the restart at job ${Math.floor(JOBS / 2)}): ${learned.length}`,
    );
    console.log("\nThe adaptive runner's last decision per class:\n");
    for (const [jobClass, reason] of runners.adaptive.reasons)
      console.log(`- ${jobClass}: ${reason}`);
    console.log("");
    for (const mode of ["fixed", "adaptive"] as const) {
      // What the marketplace paid our agents, read back: it must equal the tally.
      let earned = 0;
      for (const { agentType } of AGENT_TYPES)
        earned += (await client.getAgent(runners[mode].agentIdOf(agentType))).total_earned_usd ?? 0;
      console.log(
        `- ${mode}: the marketplace's total_earned_usd of its agents: $${earned.toFixed(3)}`,
      );
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
    await dispatcher.close();
    await market.close();
  }
}

const AGENT_TYPES = [
  { agentType: "code_reviewer" },
  { agentType: "schema_architect" },
  { agentType: "anomaly_hunter" },
];

/** Our agent's capability score in the job's class: its skill at the work. */
function runnerSkill(world: MarketJob): number | undefined {
  const scores: Record<string, Record<string, number>> = {
    code_reviewer: { code_review: 0.94, security_analysis: 0.9 },
    schema_architect: { schema_design: 0.96 },
    anomaly_hunter: { anomaly_detection: 0.95, pattern_recognition: 0.92 },
  };
  return scores[world.profile.agentType]?.[world.profile.capability];
}

/** The profit our agent would have made on a job bidding at multiplier `m` (hindsight). */
function profitAt(h: Hindsight, m: number): { won: boolean; profit: number } {
  const ctx = {
    agentId: "",
    jobId: "",
    jobClass: h.job.profile.capability,
    fixedPriceUsd: h.fixedPriceUsd,
    floorUsd: h.floorUsd,
    budgetUsd: h.job.budgetUsd,
    costUsd: h.costUsd,
  };
  const floored = applyFloor(priceAt(m, ctx), h.job.budgetUsd, h.floorUsd);
  if (floored.kind !== "bid") return { won: false, profit: 0 };
  const bids = [
    ...h.job.competitors.map((c, i) => ({
      bidId: `c${i}`,
      priceUsd: c.priceUsd,
      confidence: c.confidence,
    })),
    { bidId: "ours", priceUsd: floored.priceUsd, confidence: h.confidence },
  ];
  if (award(bids, h.job.poster.limitUsd)?.bidId !== "ours") return { won: false, profit: 0 };
  const share = paidShare({ agentId: "", jobId: "", qualityScore: h.quality }) ?? 0;
  return { won: true, profit: share * floored.priceUsd - h.costUsd };
}

const usd = (n: number) => `$${n.toFixed(3)}`;
const pct = (n: number) => `${(n * 100).toFixed(1)} %`;

function report(
  tallies: Record<PricingMode, Tally>,
  byClass: Record<PricingMode, Map<string, Tally>>,
  hindsight: Hindsight[],
  mismatches: number,
  requests: number,
  elapsedMs: number,
): void {
  const profit = (t: Tally) => t.paidUsd - t.costUsd;
  const byM = LEARNER.grid.map((m) => ({
    m,
    profit: hindsight.reduce((sum, h) => sum + profitAt(h, m).profit, 0),
  }));
  const best = byM.reduce((a, b) => (b.profit > a.profit ? b : a));
  // The best multiplier of each class in hindsight (what a per-class learner can reach).
  let perClassBest = 0;
  for (const profile of CLASSES) {
    const of = hindsight.filter((h) => h.job.profile.capability === profile.capability);
    perClassBest += Math.max(
      ...LEARNER.grid.map((m) => of.reduce((s, h) => s + profitAt(h, m).profit, 0)),
    );
  }
  const f = tallies.fixed;
  const a = tallies.adaptive;
  console.log(
    `\n${JOBS} jobs, market ${MARKET}, seed ${SEED}, ${POSTERS} posters; grid ${LEARNER.grid.join(", ")}; exploration ${LEARNER.exploration}, prior Beta(${LEARNER.prior}, ${LEARNER.prior}); ${requests} marketplace requests in ${(elapsedMs / 1000).toFixed(0)} s\n`,
  );
  console.log("| figure | fixed | adaptive |");
  console.log("| --- | ---: | ---: |");
  console.log(`| bids | ${f.bids} | ${a.bids} |`);
  console.log(
    `| won (win rate) | ${f.won} (${pct(f.won / f.bids)}) | ${a.won} (${pct(a.won / a.bids)}) |`,
  );
  console.log(`| paid | ${usd(f.paidUsd)} | ${usd(a.paidUsd)} |`);
  console.log(`| LLM cost (estimated) | ${usd(f.costUsd)} | ${usd(a.costUsd)} |`);
  console.log(
    `| **profit** | **${usd(profit(f))}** | **${usd(profit(a))}** (${((profit(a) / profit(f) - 1) * 100).toFixed(1)} % more) |`,
  );
  console.log(
    `| mean quality of won jobs | ${(f.qualitySum / f.won).toFixed(3)} | ${(a.qualitySum / a.won).toFixed(3)} |`,
  );
  console.log(
    `| regret vs the best single multiplier in hindsight (×${best.m}: ${usd(best.profit)}) | ${usd(best.profit - profit(f))} | ${usd(best.profit - profit(a))} |`,
  );
  console.log(
    `| regret vs the best multiplier per class in hindsight (${usd(perClassBest)}) | ${usd(perClassBest - profit(f))} | ${usd(perClassBest - profit(a))} |`,
  );
  console.log(`| bids below the floor | ${f.belowFloor} | ${a.belowFloor} |`);
  console.log("\nPer class (profit; win rate; mean quality):\n");
  console.log("| class | going rate | fixed | adaptive |");
  console.log("| --- | ---: | --- | --- |");
  for (const profile of CLASSES) {
    const cell = (t: Tally | undefined) =>
      t
        ? `${usd(profit(t))}; ${pct(t.won / Math.max(1, t.bids))}; ${(t.qualitySum / Math.max(1, t.won)).toFixed(2)}`
        : "–";
    console.log(
      `| ${profile.capability} | ${usd(goingRate(profile))} | ${cell(byClass.fixed.get(profile.capability))} | ${cell(byClass.adaptive.get(profile.capability))} |`,
    );
  }
  console.log(
    `\nHindsight profit by multiplier: ${byM.map((x) => `×${x.m} ${usd(x.profit)}`).join(", ")}`,
  );
  console.log(`Replay of the fixed runner's awards that disagreed with the market: ${mismatches}`);
}

await main();
