import type { Logger } from "../../logger.ts";
import type { Metrics } from "../../metrics.ts";
import { sleep } from "../../retry.ts";
import { errorMessage } from "../../secrets.ts";
import { planBalance } from "../../state/balance.ts";
import {
  type AgentLease,
  holdingsByReplica,
  isLive,
  type LeaseListing,
  type LeaseStore,
} from "../../state/leases.ts";
import type { Supervisor } from "../fleet/supervisor.ts";
import { Tenure } from "../fleet/tenure.ts";

export interface LeaseKeeperOptions {
  store: LeaseStore;
  supervisor: Supervisor;
  logger: Logger;
  metrics?: Metrics;
  now?: () => number;
}

/** Reasons of bazaar_runner_lease_changes_total. */
type LeaseChange = "claimed" | "released" | "lost";

/** The shortest pause between two rounds, so an expiry that is due does not spin the loop. */
const MIN_WAIT_MS = 50;

/**
 * This replica's side of sharing agents through MongoDB. A loop that, every third of the
 * lease TTL (and right when another replica's lease runs out): announces the replica,
 * renews its leases, re-claims its own that expired while MongoDB was away (same epoch
 * when no one else took them), and moves towards its balanced share: it hands agents
 * over (drain, then release) when above it and claims free ones when below it. The
 * supervisor runs exactly the agents held here.
 */
export class LeaseKeeper {
  readonly #options: LeaseKeeperOptions;
  readonly #log: Logger;
  readonly #clock: () => number;
  readonly #held = new Map<string, Tenure>();
  readonly #draining = new Map<string, Promise<void>>();
  readonly #stop = new AbortController();
  #listing: LeaseListing | undefined;
  #loop: Promise<void> | undefined;
  #leaving = false;
  #failures = 0;
  /** When this replica last reached MongoDB after not reaching it (or started). */
  #reachedAt = 0;
  /** When the last round's listing came back. */
  #listedAt: number | undefined;
  /** Cuts the pause between rounds short. */
  #wake = new AbortController();

  constructor(options: LeaseKeeperOptions) {
    this.#options = options;
    this.#log = options.logger.child({ replica: options.store.replicaId });
    this.#clock = options.now ?? Date.now;
  }

  get replicaId(): string {
    return this.#options.store.replicaId;
  }

  /** The other live replicas and how many agents each holds, as last read. */
  others(): Array<{ id: string; agents: number }> {
    if (!this.#listing) return [];
    return holdingsByReplica(this.#listing, this.#clock()).filter((r) => r.id !== this.replicaId);
  }

  start(): void {
    this.#loop ??= this.#run();
  }

  async #run(): Promise<void> {
    while (!this.#stop.signal.aborted) {
      const began = this.#clock();
      let wait = this.#period;
      try {
        // Renewals are a period apart from start to start, however long a round took.
        wait = Math.max(MIN_WAIT_MS, (await this.tick()) - (this.#clock() - began));
        if (this.#failures > 0)
          this.#log.info({ failures: this.#failures }, "leases: MongoDB reachable again");
        this.#failures = 0;
      } catch (error) {
        this.#failures++;
        // Once per outage; bidding stops by itself as the leases near their expiry.
        this.#log[this.#failures === 1 ? "warn" : "debug"](
          { problem: errorMessage(error) },
          "leases: renewal failed; no new bids once a lease nears expiry",
        );
      }
      await sleep(wait, AbortSignal.any([this.#stop.signal, this.#wake.signal])).catch(
        () => undefined,
      );
      this.#wake = new AbortController();
    }
  }

  /** The set of agents changed: divide them again now rather than at the next round. */
  nudge(): void {
    this.#wake.abort();
  }

  get #period(): number {
    return this.#options.store.ttlMs / 3;
  }

  /** One round; returns how long to wait before the next. */
  async tick(): Promise<number> {
    const { store, supervisor } = this.#options;
    await store.announce();
    await this.#renew();
    const listing = await store.list();
    this.#listing = listing;
    this.#updateGauge();
    if (this.#leaving || this.#stop.signal.aborted) return this.#period;

    const desired = new Set(supervisor.desiredKeys());
    for (const key of this.#held.keys()) {
      if (!desired.has(key) && !this.#draining.has(key)) this.#handOver(key);
    }
    const now = this.#clock();
    // A round that ended long after the last one (an outage, even one a slow call rode
    // out) means this replica could not see MongoDB either meanwhile.
    if (this.#listedAt === undefined || now - this.#listedAt > 2 * this.#period)
      this.#reachedAt = now;
    this.#listedAt = now;
    const plan = planBalance({
      me: this.replicaId,
      replicas: listing.replicas,
      agents: [...desired],
      leases: listing.leases,
      held: [...this.#held.keys()],
      now,
      draining: new Set(this.#draining.keys()),
      load: supervisor.load(),
      // Others' leases that ran out while we could not see MongoDB either are left to
      // their holders for one renewal period: a live one takes its own back.
      takeExpired: now - this.#reachedAt > this.#period,
    });
    for (const key of plan.release) this.#handOver(key);
    await Promise.all(
      plan.claim.map(async (key) => {
        const lease = await store.claim(key);
        if (lease && !this.#leaving) this.#take(key, lease);
        else if (lease) await store.release(key, lease.epoch);
      }),
    );
    this.#updateGauge();
    return this.#nextWait(listing.leases, now);
  }

  /** Renews what is held; an expired lease of ours is claimed again, the rest are lost. */
  async #renew(): Promise<void> {
    const { store, supervisor } = this.#options;
    for (const [key, tenure] of this.#held) {
      if (tenure.lost) this.#lose(key, "the agent stopped: a newer lease epoch exists");
    }
    const renewed = await store.renew(
      new Map([...this.#held].map(([key, tenure]) => [key, tenure.epoch])),
    );
    const extended = new Set<string>();
    for (const lease of renewed) {
      this.#held.get(lease.agent)?.extend(lease.expiresAt);
      extended.add(lease.agent);
    }
    const expired = [...this.#held].filter(([key]) => !extended.has(key));
    await Promise.all(
      expired.map(async ([key, tenure]) => {
        const again = await store.claim(key);
        if (again && again.epoch === tenure.epoch) {
          tenure.extend(again.expiresAt);
          return;
        }
        this.#lose(key, again ? "another replica held it meanwhile" : "another replica holds it");
        if (again && !this.#leaving && supervisor.desiredKeys().includes(key))
          this.#take(key, again);
      }),
    );
  }

  #take(key: string, lease: AgentLease): void {
    const tenure = new Tenure({
      epoch: lease.epoch,
      expiresAt: lease.expiresAt,
      marginMs: this.#options.store.ttlMs / 3,
      now: this.#clock,
    });
    this.#held.set(key, tenure);
    this.#count("claimed");
    this.#log.info({ agent: key, epoch: lease.epoch }, "agent lease claimed");
    this.#options.supervisor.acquire(key, tenure);
  }

  #lose(key: string, reason: string): void {
    this.#held.delete(key);
    this.#count("lost");
    this.#log.warn({ agent: key, reason }, "agent lease lost");
    this.#options.supervisor.revoke(key, reason);
  }

  /** Drains the agent (its in-flight jobs finish here), then releases its lease. */
  #handOver(key: string): Promise<void> {
    const tenure = this.#held.get(key);
    if (!tenure) return Promise.resolve();
    const existing = this.#draining.get(key);
    if (existing) return existing;
    this.#log.info({ agent: key }, "handing agent over: draining, then releasing its lease");
    const done = this.#options.supervisor
      .handOver(key)
      .then(async () => {
        // Lost meanwhile: not ours to release.
        if (this.#held.get(key) !== tenure) return;
        this.#held.delete(key);
        if (await this.#options.store.release(key, tenure.epoch)) this.#count("released");
      })
      .catch((error: unknown) => {
        // The lease runs out by itself after the TTL.
        this.#held.delete(key);
        this.#log.warn({ agent: key, problem: errorMessage(error) }, "releasing a lease failed");
      })
      .finally(() => {
        this.#draining.delete(key);
        this.#updateGauge();
      });
    this.#draining.set(key, done);
    return done;
  }

  /** Wakes at the earliest expiry of another replica's lease, so failover does not wait a period. */
  #nextWait(leases: readonly AgentLease[], now: number): number {
    let wait = this.#period;
    for (const lease of leases) {
      if (lease.holder !== this.replicaId && isLive(lease, now))
        wait = Math.min(wait, lease.expiresAt - now + MIN_WAIT_MS);
    }
    return Math.max(MIN_WAIT_MS, wait);
  }

  #count(reason: LeaseChange): void {
    this.#options.metrics?.leaseChanges.inc({ reason });
  }

  #updateGauge(): void {
    this.#options.metrics?.leasesHeld.set(this.#held.size);
  }

  /** Shutdown begins: keep renewing while agents drain, claim nothing new. */
  beginLeaving(): void {
    this.#leaving = true;
  }

  /** After the agents drained: releases every lease so others take over at once. */
  async stop(): Promise<void> {
    this.#leaving = true;
    this.#stop.abort();
    await this.#loop;
    await Promise.allSettled([...this.#draining.values()]);
    const { store } = this.#options;
    await Promise.allSettled(
      [...this.#held].map(async ([key, tenure]) => {
        if (await store.release(key, tenure.epoch)) this.#count("released");
      }),
    );
    this.#held.clear();
    this.#updateGauge();
    await store.withdraw().catch(() => undefined);
  }
}
