import { backoffDelay, sleep } from "../../retry.ts";
import { isStaleEpoch } from "../../state/fence.ts";
import { sameAddress } from "../../wallet/keys.ts";
import { checkForeignHeartbeat, rememberRegistrationStamp } from "../presence/foreign-heartbeat.ts";
import { sessionSigner } from "../presence/heartbeats.ts";
import type { AgentRegistration } from "../presence/registration.ts";
import {
  findKeylessAgent,
  registeredKeyless,
  retireKeylessAgent,
} from "../presence/wallet-migration.ts";
import type { AgentTelemetry } from "../telemetry/agent-telemetry.ts";
import type { Tenure } from "./tenure.ts";
import type { WorkerAgent, WorkerDeps } from "./worker-deps.ts";

export interface StartupDeps {
  deps: Pick<
    WorkerDeps,
    | "client"
    | "ledger"
    | "wallets"
    | "sessions"
    | "onRegistered"
    | "webhookUrl"
    | "checkForeignHeartbeats"
    | "keyless"
    | "heartbeatIntervalMs"
  >;
  telemetry: AgentTelemetry;
  registration: AgentRegistration;
  /** This replica's lease on the agent; undefined without replicas (no MongoDB). */
  tenure: Tenure | undefined;
  /** Aborted when the worker is forced to stop: start-up ends. */
  lifetime: AbortSignal;
  /** A newer lease epoch exists: the worker stops at once. */
  abandon: (reason: string) => void;
}

/**
 * Everything before an agent's first heartbeat: its wallet, its registration (a keyless
 * agent of an earlier version is registered anew and retired), its webhook, its ledger
 * fence (with leases) or a look for another runner heartbeating it (without), and its
 * totals from the ledger. Writes the agent's wallet and id as they become known; returns
 * the id it runs as, or undefined when the worker was stopped first.
 */
export async function startAgent(agent: WorkerAgent, s: StartupDeps): Promise<string | undefined> {
  const { deps, telemetry } = s;
  const wallet = await untilDone(s, "wallet lookup failed", () =>
    deps.wallets.resolve(agent.spec.key, agent.spec.config),
  );
  if (!wallet) return undefined;
  agent.wallet = wallet;
  telemetry.walletResolved(wallet);
  const migration = { client: deps.client, ledger: deps.ledger, telemetry, keyless: deps.keyless };
  const legacy = deps.wallets.legacyAddress(agent.spec.config.name);
  const migrating = !sameAddress(wallet.address, legacy);
  let retired: string | undefined;
  // The write-back goes on beside the steps below (none reads it); awaited before the end.
  let writingBack: Promise<void> | undefined;
  if (agent.agentId && migrating && (await registeredKeyless(agent.agentId, legacy, migration))) {
    retired = agent.agentId;
    agent.agentId = undefined;
  }
  if (!agent.agentId) {
    const registration = await s.registration.untilDone(wallet.address);
    if (!registration) return undefined;
    agent.agentId = registration.agentId;
    agent.selfRegistered = true;
    writingBack = deps.onRegistered?.(agent.spec, registration).catch((error: unknown) => {
      telemetry.warn("could not write the agent_id back to the config source", error);
    });
    if (migrating) retired ??= await findKeylessAgent(legacy, registration.agentId, migration);
  }
  const agentId = agent.agentId;
  const registeredNow = agent.selfRegistered;
  if (retired) await retireKeylessAgent(retired, agentId, wallet.address, migration);
  // An agent registered earlier (or elsewhere) is switched over to notifications;
  // one this runner just registered asked for them at registration.
  if (deps.webhookUrl && !agent.selfRegistered) await useWebhook(agent, agentId, s);
  // The totals are read beside the fence (or the look for another runner): independent
  // reads, so the agent waits for the slower one, not for both in a row. A stale epoch
  // still stops the agent (the read totals are then unused).
  const holding = async () => {
    if (s.tenure) await raiseFence(agentId, s.tenure.epoch, s);
    else if (deps.checkForeignHeartbeats) {
      if (registeredNow) await rememberRegistrationStamp(agent, agentId, deps.client);
      else await checkForeignHeartbeat(agentId, s.deps, telemetry);
    }
  };
  await Promise.all([holding(), restoreTotals(agentId, s), writingBack]);
  return s.lifetime.aborted ? undefined : agentId;
}

/** Retries a start-up step (a ledger read) with backoff until it works or the worker stops. */
async function untilDone<T>(
  s: StartupDeps,
  what: string,
  step: () => Promise<T>,
): Promise<T | undefined> {
  for (let attempt = 1; !s.lifetime.aborted; attempt++) {
    try {
      return await step();
    } catch (error) {
      s.telemetry.error(what, error);
      await sleep(backoffDelay(attempt, { baseMs: 1000, capMs: 60_000 }), s.lifetime).catch(
        () => undefined,
      );
    }
  }
  return undefined;
}

async function useWebhook(agent: WorkerAgent, agentId: string, s: StartupDeps): Promise<void> {
  const { deps } = s;
  const fields = { webhook_url: deps.webhookUrl };
  // Signed in as the heartbeat is: the service lets only the agent's owner change it.
  const signer = sessionSigner(deps.wallets, agent.wallet);
  try {
    if (signer)
      await deps.sessions.withSession(signer, (token) =>
        deps.client.updateAgent(agentId, fields, token),
      );
    else await deps.client.updateAgent(agentId, fields);
  } catch (error) {
    // Polling still finds every job; notifications only make it quicker.
    s.telemetry.warn("could not point the agent's webhook_url at this runner", error);
  }
}

/**
 * Before acting as the agent's new holder: no ledger write of an older holder lands
 * after this. Retried while MongoDB is away; a newer epoch means the lease is gone.
 */
async function raiseFence(agentId: string, epoch: number, s: StartupDeps): Promise<void> {
  for (let attempt = 1; !s.lifetime.aborted; attempt++) {
    try {
      await s.deps.ledger.raiseFence(agentId, epoch);
      return;
    } catch (error) {
      if (isStaleEpoch(error)) {
        s.abandon("a newer lease epoch exists");
        return;
      }
      s.telemetry.error("raising the ledger fence failed", error);
      await sleep(backoffDelay(attempt, { baseMs: 500, capMs: 5000 }), s.lifetime).catch(
        () => undefined,
      );
    }
  }
}

async function restoreTotals(agentId: string, s: StartupDeps): Promise<void> {
  try {
    // Two independent reads: side by side, one round trip of waiting instead of two.
    const [totals, paid] = await Promise.all([
      s.deps.ledger.agentTotals(agentId),
      s.deps.ledger.paidTotals(agentId),
    ]);
    s.telemetry.restoreTotals(totals);
    s.telemetry.restorePaid(paid.paidUsd);
  } catch (error) {
    s.telemetry.error("reading the agent's totals from the ledger failed", error);
  }
}
