import { describe, expect, it } from "vitest";
import { planBalance } from "../../src/state/balance.ts";
import type { AgentLease } from "../../src/state/leases.ts";

const NOW = 1_000_000;
const agents = (n: number): string[] => Array.from({ length: n }, (_, i) => `agent-${i}`);
const lease = (agent: string, holder: string | null, live = true, epoch = 1): AgentLease => ({
  agent,
  holder,
  expiresAt: live ? NOW + 10_000 : NOW - 1,
  epoch,
});

/** Runs every replica's plan on a shared listing until nothing changes; returns holdings. */
function converge(replicas: string[], names: string[], start: AgentLease[]): Map<string, string> {
  const leases = new Map(start.map((l) => [l.agent, { ...l }]));
  for (let round = 0; round < 10; round++) {
    let changed = false;
    for (const me of replicas) {
      const held = [...leases.values()]
        .filter((l) => l.holder === me && l.expiresAt > NOW)
        .map((l) => l.agent);
      const plan = planBalance({
        me,
        replicas,
        agents: names,
        leases: [...leases.values()],
        held,
        now: NOW,
      });
      for (const agent of plan.release) {
        leases.set(agent, lease(agent, null, false));
        changed = true;
      }
      for (const agent of plan.claim) {
        const current = leases.get(agent);
        if (current && current.holder !== null && current.expiresAt > NOW) continue;
        leases.set(agent, lease(agent, me));
        changed = true;
      }
    }
    if (!changed) break;
  }
  return new Map([...leases.values()].filter((l) => l.holder).map((l) => [l.agent, l.holder!]));
}

describe("planBalance", () => {
  it("gives each of R replicas ⌈N/R⌉ or ⌊N/R⌋ agents, the first N mod R one more", () => {
    const replicas = ["r-a", "r-b", "r-c"];
    const targets = replicas.map(
      (me) =>
        planBalance({ me, replicas, agents: agents(10), leases: [], held: [], now: NOW }).target,
    );
    expect(targets).toEqual([4, 3, 3]);
    expect(
      planBalance({ me: "solo", replicas: [], agents: agents(5), leases: [], held: [], now: NOW })
        .target,
    ).toBe(5);
  });

  it("claims only free agents: never held, released or expired", () => {
    const leases = [
      lease("agent-0", "r-b"),
      lease("agent-1", null, false),
      lease("agent-2", "r-b", false),
      lease("agent-3", "r-c"),
    ];
    const plan = planBalance({
      me: "r-a",
      replicas: ["r-a", "r-b", "r-c"],
      agents: agents(6),
      leases,
      held: [],
      now: NOW,
    });
    expect(plan.target).toBe(2);
    expect(plan.release).toEqual([]);
    expect(plan.claim).toHaveLength(2);
    for (const agent of plan.claim)
      expect(["agent-1", "agent-2", "agent-4", "agent-5"]).toContain(agent);
  });

  it("releases the least busy of its agents above the target, none it is already draining", () => {
    const mine = agents(6).map((a) => lease(a, "r-a"));
    const plan = planBalance({
      me: "r-a",
      replicas: ["r-a", "r-b"],
      agents: agents(6),
      leases: mine,
      held: agents(6),
      now: NOW,
      draining: new Set(["agent-5"]),
      load: new Map([
        ["agent-0", 2],
        ["agent-1", 0],
        ["agent-2", 1],
        ["agent-3", 0],
      ]),
    });
    expect(plan.target).toBe(3);
    // Five held (one draining): two go, the idle ones first.
    expect(plan.release).toEqual(["agent-1", "agent-3"]);
    expect(plan.claim).toEqual([]);
  });

  it("claims again a live lease naming it that it does not run (a restart under the same id)", () => {
    const leases = agents(3).map((a) => lease(a, "r-a"));
    const plan = planBalance({
      me: "r-a",
      replicas: ["r-a"],
      agents: agents(3),
      leases,
      held: ["agent-0"],
      now: NOW,
    });
    expect(plan.claim.sort()).toEqual(["agent-1", "agent-2"]);
  });

  it("leaves another replica's expired lease alone when told to (just back from an outage)", () => {
    const leases = [lease("agent-0", "r-b", false), lease("agent-1", null, false)];
    const plan = planBalance({
      me: "r-a",
      replicas: ["r-a"],
      agents: agents(2),
      leases,
      held: [],
      now: NOW,
      takeExpired: false,
    });
    expect(plan.claim).toEqual(["agent-1"]);
  });

  it("converges to disjoint, balanced holdings from any start", () => {
    const replicas = ["r-a", "r-b", "r-c"];
    const names = agents(30);
    const fromOne = converge(
      replicas,
      names,
      names.map((a) => lease(a, "r-a")),
    );
    const counts = (held: Map<string, string>) =>
      replicas.map((r) => [...held.values()].filter((h) => h === r).length);
    // r-a still holds all 30 live: it releases 20, the others claim them.
    expect(counts(fromOne)).toEqual([10, 10, 10]);
    expect(fromOne.size).toBe(30);
    const fromNothing = converge(replicas, agents(31), []);
    expect(counts(fromNothing)).toEqual([11, 10, 10]);
  });

  it("takes over a dead replica's agents once their leases expired", () => {
    const names = agents(9);
    const start = names.map((a, i) => lease(a, ["r-a", "r-b", "r-c"][i % 3]!, i % 3 !== 2));
    const held = converge(["r-a", "r-b"], names, start);
    expect(held.size).toBe(9);
    expect(new Set(held.values())).toEqual(new Set(["r-a", "r-b"]));
  });
});
