import { type AgentLease, isLive } from "./leases.ts";

/** What one replica knows when it divides the agents. */
export interface BalanceInput {
  me: string;
  /** Live replicas; `me` counts whether listed or not. */
  replicas: readonly string[];
  /** The agents to run (config keys). */
  agents: readonly string[];
  leases: readonly AgentLease[];
  /**
   * The agents this replica runs now. A live lease naming this replica that is not among
   * them is left from an earlier life under the same id (a restart): claimable again.
   */
  held: readonly string[];
  now: number;
  /** Our agents already draining for hand-over: they count as gone. */
  draining?: ReadonlySet<string>;
  /** Jobs in flight per held agent: the least busy are handed over first. */
  load?: ReadonlyMap<string, number>;
  /**
   * Whether another replica's expired lease may be taken (default true). False right
   * after this replica reached MongoDB again: the others' leases ran out during the same
   * outage, and a live replica re-claims its own within one renewal period.
   */
  takeExpired?: boolean;
}

export interface BalancePlan {
  /** How many agents this replica should hold: ⌈N/R⌉ or ⌊N/R⌋. */
  target: number;
  /** Held agents to drain and then release. */
  release: string[];
  /** Free agents (never held, released or expired) to claim. */
  claim: string[];
}

/**
 * Divides N agents among R live replicas so each holds ⌈N/R⌉ or ⌊N/R⌋: replicas sorted
 * by id, the first N mod R take one more. Every replica computes the same targets from
 * the same listing, so they converge without talking to each other. A replica above its
 * target drains and releases its least busy agents; one below it claims only agents no
 * one holds live, never takes them from another replica.
 */
export function planBalance(input: BalanceInput): BalancePlan {
  const { me, now } = input;
  const replicas = [...new Set([...input.replicas, me])].sort();
  const agents = [...new Set(input.agents)];
  const rank = replicas.indexOf(me);
  const base = Math.floor(agents.length / replicas.length);
  const target = base + (rank < agents.length % replicas.length ? 1 : 0);

  const leaseOf = new Map(input.leases.map((lease) => [lease.agent, lease]));
  const draining = input.draining ?? new Set<string>();
  const running = new Set(input.held);
  const held = agents.filter((agent) => running.has(agent) && !draining.has(agent));

  if (held.length > target) {
    const load = (agent: string): number => input.load?.get(agent) ?? 0;
    const release = [...held]
      .sort((a, b) => load(a) - load(b) || (a < b ? -1 : a > b ? 1 : 0))
      .slice(0, held.length - target);
    return { target, release, claim: [] };
  }
  const takeExpired = input.takeExpired ?? true;
  const free = agents.filter((agent) => {
    if (running.has(agent)) return false;
    const lease = leaseOf.get(agent);
    if (lease === undefined || lease.holder === null || lease.holder === me) return true;
    return !isLive(lease, now) && takeExpired;
  });
  // Each replica walks the free agents in its own order, so replicas claiming at the
  // same moment mostly reach for different ones.
  const claim = free
    .map((agent) => ({ agent, order: spread(`${me}\u0000${agent}`) }))
    .sort((a, b) => a.order - b.order || (a.agent < b.agent ? -1 : 1))
    .slice(0, Math.max(0, target - held.length))
    .map((x) => x.agent);
  return { target, release: [], claim };
}

/** FNV-1a: a cheap, stable spread of strings over 32 bits. */
function spread(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash;
}
