import { parseTime } from "../../contract/time.ts";
import type { MarketplaceClient } from "../../marketplace/client.ts";
import type { AgentTelemetry } from "../telemetry/agent-telemetry.ts";

/** The agent's record of the `last_active` this start's registration left (see below). */
export interface StampedAgent {
  registrationStamp?: string | undefined;
}

/**
 * Without leases, the look for another runner heartbeating one of our agents. An agent
 * this start found already registered (its agent_id was configured): a `last_active`
 * within the last interval was somebody else's. An agent this start registered: the
 * registration stamped `last_active` itself (a wallet's existing agent too), so the
 * stamp is remembered and looked at again just before the first heartbeat.
 */

/** Someone heartbeated this agent within the last interval: another runner may run it. */
export async function checkForeignHeartbeat(
  agentId: string,
  deps: { client: Pick<MarketplaceClient, "getAgent">; heartbeatIntervalMs: number },
  telemetry: AgentTelemetry,
): Promise<void> {
  try {
    const agent = await deps.client.getAgent(agentId);
    // Registration stamps last_active too: equal to created_at, nobody heartbeated it.
    if (!agent.last_active || agent.last_active === agent.created_at) return;
    const age = Date.now() - parseTime(agent.last_active).getTime();
    if (Number.isFinite(age) && age >= 0 && age < deps.heartbeatIntervalMs)
      telemetry.foreignHeartbeat(agent.last_active);
  } catch {
    // Only a warning is at stake; the first heartbeat reports real trouble.
  }
}

/** After this start registered the agent: the `last_active` its registration left. */
export async function rememberRegistrationStamp(
  agent: StampedAgent,
  agentId: string,
  client: Pick<MarketplaceClient, "getAgent">,
): Promise<void> {
  try {
    agent.registrationStamp = (await client.getAgent(agentId)).last_active ?? undefined;
  } catch {
    agent.registrationStamp = undefined; // only a warning is at stake
  }
}

/**
 * Before the first heartbeat of an agent this start registered: a `last_active` that
 * moved since the registration stamped it was somebody else's heartbeat (or change).
 * Looked at once.
 */
export async function foreignSinceRegistration(
  agent: StampedAgent,
  agentId: string,
  client: Pick<MarketplaceClient, "getAgent">,
  telemetry: AgentTelemetry,
): Promise<void> {
  const stamp = agent.registrationStamp;
  if (stamp === undefined) return;
  agent.registrationStamp = undefined;
  try {
    const now = (await client.getAgent(agentId)).last_active;
    if (now && now !== stamp) telemetry.foreignHeartbeat(now);
  } catch {
    // Only a warning is at stake; the heartbeat reports real trouble.
  }
}
