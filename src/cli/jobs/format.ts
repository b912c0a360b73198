import type { MarketplaceClient } from "../../marketplace/client.ts";
import type { Bid, JobWithBids } from "../../marketplace/schemas.ts";
import type { Decision, RunnerAnswer } from "../runner-client.ts";

/** Agent names by id, for readable bid lines; best effort (an empty map when the listing fails). */
export async function agentNames(client: MarketplaceClient): Promise<Map<string, string>> {
  try {
    return new Map((await client.listAgents()).map((a) => [a.agent_id, a.name]));
  } catch {
    return new Map();
  }
}

export function money(value: number | null | undefined): string {
  return typeof value === "number" ? `$${value.toFixed(3)}` : "-";
}

/** An agent as "Name (agent_id)" when its name is known. */
function agentLabel(agentId: string, name: string | null | undefined): string {
  return name ? `${name} (${agentId})` : agentId;
}

function bidLine(bid: Bid, names: ReadonlyMap<string, string>): string {
  // The API calls the bidder's confidence `estimated_quality`; log and dashboard say confidence.
  const confidence = bid.estimated_quality ?? bid.confidence;
  return `  ${bid.bid_id}  ${bid.status.padEnd(17)} ${money(bid.price_usd).padStart(8)}  confidence ${confidence ?? "-"}  ${agentLabel(bid.agent_id, bid.agent_name ?? names.get(bid.agent_id))}`;
}

function decisionLine(decision: Decision, width: number): string {
  const name = decision.agent.padEnd(width);
  if (decision.outcome === "bid") {
    const confidence =
      decision.confidence === undefined ? "" : `  confidence ${decision.confidence}`;
    return `  ${name}  bid   ${money(decision.priceUsd)}${confidence}`;
  }
  return `  ${name}  skip  ${decision.reason ?? "-"}: ${decision.detail}`;
}

/** Why each agent of a runner bid or not, as `jobs show` prints it below the bids. */
export function formatDecisions(
  answer: RunnerAnswer<{ decisions: Decision[] }>,
  runnerUrl: string,
): string[] {
  if (!answer.ok) return [`decisions: ${answer.why}`];
  const { decisions } = answer.value;
  if (decisions.length === 0)
    return [
      `decisions: none yet from the runner at ${runnerUrl} (its agents decide at its next poll)`,
    ];
  const width = Math.max(...decisions.map((d) => d.agent.length));
  return [`decisions (runner at ${runnerUrl}):`, ...decisions.map((d) => decisionLine(d, width))];
}

/** A job, its bids, the runner's decisions (when given) and its result, readable in a terminal. */
export function formatJob(
  job: JobWithBids,
  names: ReadonlyMap<string, string> = new Map(),
  decisions: string[] = [],
): string {
  const executor = job.result?.executed_by;
  const lines = [
    `${job.job_id}  ${job.status}  ${money(job.budget_usd)}`,
    `title:        ${job.title}`,
    `capabilities: ${job.required_capabilities.join(", ") || "-"} (min score ${job.min_capability_score})`,
    `posted:       ${job.created_at ?? "-"}${job.assigned_agent_id ? `   assigned to ${job.assigned_agent_id} at ${job.assigned_at}` : ""}`,
    "",
    job.description,
    "",
    `bids (${job.bids.length}):`,
    ...(job.bids.length ? job.bids.map((bid) => bidLine(bid, names)) : ["  none yet"]),
    ...(decisions.length ? ["", ...decisions] : []),
  ];
  if (job.result) {
    lines.push(
      "",
      `result: ${job.result.success ? "success" : "FAILED"} by ${executor ? agentLabel(executor, names.get(executor)) : "-"} (${job.result.model || "no model"}, ${job.result.tokens_used} tokens)`,
      "",
      job.result.output,
    );
  }
  return lines.join("\n");
}
