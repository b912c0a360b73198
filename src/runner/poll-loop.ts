import type { Logger } from "../logger.ts";
import type { Metrics } from "../metrics.ts";
import { backoffDelay, sleep } from "../retry.ts";
import { errorMessage } from "../secrets.ts";
import type { JobFeed } from "./feed/job-feed.ts";
import type { MarketplaceHealth } from "./feed/marketplace-health.ts";
import type { FleetDispatch } from "./fleet-dispatch.ts";
import type { MoneyWatch } from "./negotiation/money-watch.ts";

export interface PollLoopDeps {
  feed: Pick<JobFeed, "poll">;
  health: Pick<MarketplaceHealth, "up" | "ok" | "failed" | "probeDelay">;
  metrics: Pick<Metrics, "pollDuration">;
  logger: Logger;
  /** BAZAAR_API_URL, for the outage warning. */
  marketplaceUrl: string;
  /** AGENT_POLL_INTERVAL: the cap of the backoff after a failed poll. */
  pollIntervalMs: number;
  /** The wait between polls that reached the marketplace (relaxed while webhook hints come). */
  interval: () => number;
  /** Where each poll's jobs go: the agents' bids and assignments, then counter-offers. */
  fleet: Pick<FleetDispatch, "newPoll" | "dispatch" | "answerOffers">;
  /** Negotiations and payments, checked once per poll. */
  money: Pick<MoneyWatch, "poll">;
  /** Aborted at shutdown: the loop ends after the poll under way. */
  signal: AbortSignal;
}

/**
 * The one poll loop. While the marketplace is down the poll is the runner's single
 * probe (one attempt, backing off up to the heartbeat interval); the first answer ends
 * the outage and the jobs of that poll are dispatched at once. Polls start one interval
 * apart, however long a poll's round took (its bids, its ledger writes), and never closer.
 */
export class PollLoop {
  readonly #deps: PollLoopDeps;
  #reachable = false;
  #lastOkAt: string | null = null;
  #running: Promise<void> | undefined;

  constructor(deps: PollLoopDeps) {
    this.#deps = deps;
  }

  /** Whether the last poll reached the marketplace. */
  get reachable(): boolean {
    return this.#reachable;
  }

  /** When a poll last reached the marketplace (ISO), or null before the first. */
  get lastOkAt(): string | null {
    return this.#lastOkAt;
  }

  start(): void {
    this.#running ??= this.#loop();
  }

  /** Resolves once the loop has ended (the signal aborted and the poll under way finished). */
  finished(): Promise<void> {
    return this.#running ?? Promise.resolve();
  }

  async #loop(): Promise<void> {
    const { feed, health, metrics, logger, fleet, money, signal } = this.#deps;
    let failures = 0;
    while (!signal.aborted) {
      const started = Date.now();
      const endTimer = metrics.pollDuration.startTimer();
      fleet.newPoll();
      try {
        const page = await feed.poll(signal, { attempts: health.up ? undefined : 1 });
        if (failures > 0) logger.info({ failures }, "marketplace reachable again");
        failures = 0;
        health.ok();
        this.#reachable = true;
        this.#lastOkAt = new Date().toISOString();
        await fleet.dispatch(page);
        if (page.negotiating) await fleet.answerOffers(page.negotiating);
        await money.poll(signal).catch((error: unknown) => {
          if (!signal.aborted)
            logger.debug(
              { problem: errorMessage(error) },
              "negotiation and payment check failed; tried again at the next poll",
            );
        });
        endTimer();
      } catch (error) {
        if (signal.aborted) break;
        failures++;
        health.failed(error);
        this.#reachable = false;
        // Said once per outage, not at every retry.
        if (failures === 1)
          logger.warn(
            { url: this.#deps.marketplaceUrl, problem: errorMessage(error) },
            "marketplace unreachable; backing off",
          );
      }
      await sleep(this.#wait(failures, started), signal).catch(() => undefined);
    }
  }

  /** The wait before the next poll: the interval, a backoff after a failure, or the outage's probe delay. */
  #wait(failures: number, started: number): number {
    const { health } = this.#deps;
    if (!health.up) return health.probeDelay();
    if (failures === 0) return Math.max(0, this.#deps.interval() - (Date.now() - started));
    return backoffDelay(failures, {
      baseMs: 500,
      capMs: this.#deps.pollIntervalMs,
      jitter: "equal",
    });
  }
}
