import { attachmentBytes } from "../../contract/responses.ts";
import type { Job } from "../../marketplace/schemas.ts";

/** Characters per token of English text and code: the usual rough estimate. */
const CHARS_PER_TOKEN = 4;
/** The system prompt and task framing every execution sends besides the job's text. */
export const PROMPT_OVERHEAD_TOKENS = 600;
/** The share of the budget an agent bids at most (the keyword rule's 0.85 × budget). */
export const BUDGET_SHARE = 0.85;

export interface FloorParams {
  /** Output tokens the agent type expects to write (capped by the agent's max_tokens). */
  expectedOutputTokens: number;
  /** USD per million tokens of the agent's model; undefined when the price table has none. */
  usdPerMillionTokens: number | undefined;
  /** AGENT_MIN_MARGIN (1.5). */
  margin: number;
  /** The agent's min_price_usd (0). */
  minPriceUsd: number;
}

export interface Floor {
  /** The estimated LLM cost of doing the job, USD. */
  costUsd: number;
  /** The lowest price the agent bids or accepts, USD (rounded up to a tenth of a cent). */
  floorUsd: number;
  inputTokens: number;
  outputTokens: number;
}

/** Input tokens of a job: its text, data context and attached files, plus the prompt's framing. */
export function estimateInputTokens(job: Job): number {
  let chars = job.title.length + job.description.length;
  if (job.data_context) chars += JSON.stringify(job.data_context).length;
  for (const file of job.attachments) chars += attachmentBytes(file) ?? 0;
  return Math.ceil(chars / CHARS_PER_TOKEN) + PROMPT_OVERHEAD_TOKENS;
}

/** Rounds a price up to $0.001, the precision bids are made in, so a bid at the floor is never below it. */
const ceilMil = (usd: number) => Math.ceil(Math.max(0, usd * 1000 - 1e-9)) / 1000;

/** The price floor of a job: estimated LLM cost × margin, never below the agent's minimum price. */
export function priceFloor(job: Job, params: FloorParams): Floor {
  const inputTokens = estimateInputTokens(job);
  const outputTokens = Math.max(0, Math.round(params.expectedOutputTokens));
  const costUsd = ((inputTokens + outputTokens) * (params.usdPerMillionTokens ?? 0)) / 1e6;
  const floorUsd = ceilMil(Math.max(costUsd * params.margin, params.minPriceUsd, 0));
  return { costUsd, floorUsd, inputTokens, outputTokens };
}

/** A bid's price after the floor: raised to it, or no bid when 85 % of the budget is below it. */
export type FlooredPrice =
  | { kind: "bid"; priceUsd: number; raised: boolean }
  | { kind: "below_floor"; detail: string };

export function applyFloor(priceUsd: number, budgetUsd: number, floorUsd: number): FlooredPrice {
  const ceiling = BUDGET_SHARE * budgetUsd;
  if (ceiling < floorUsd)
    return {
      kind: "below_floor",
      detail: `85 % of the $${budgetUsd} budget ($${round3(ceiling)}) is below the price floor of $${floorUsd}`,
    };
  return priceUsd >= floorUsd
    ? { kind: "bid", priceUsd, raised: false }
    : { kind: "bid", priceUsd: floorUsd, raised: true };
}

const round3 = (n: number) => Math.round(n * 1000) / 1000;
