import { join } from "node:path";
import type { Command } from "commander";
import { createLogger } from "../logger.ts";
import { type CliContext, CliError } from "./context.ts";
import { onShutdownSignal } from "./signals.ts";

function number(name: string) {
  return (value: string) => {
    const n = Number(value);
    if (!Number.isFinite(n) || n < 0)
      throw new CliError(`${name} must be a non-negative number, got "${value}"`);
    return n;
  };
}

export function registerMarketplaceCommand(program: Command, ctx: CliContext): void {
  program
    .command("marketplace")
    .description("serve only the embedded AgentBazaar marketplace")
    .option("--port <port>", "port", number("--port"), 8000)
    .option("--host <host>", "address to bind", "127.0.0.1")
    .option("--db <file>", "SQLite file (or :memory:)")
    .option(
      "--auto-award <seconds>",
      "award the best bid this many seconds after a job's first bid",
      number("--auto-award"),
    )
    .option(
      "--registration-cooldown <seconds>",
      "per-owner registration cooldown (the real service: 10)",
      number("--registration-cooldown"),
      0,
    )
    .option(
      "--stale-after <seconds>",
      "take an agent offline (and cancel its pending bids) after this long without a sign of life",
      number("--stale-after"),
      300,
    )
    .option(
      "--sweep-every <seconds>",
      "seconds between two sweeps for silent agents; 0 turns the sweep off",
      number("--sweep-every"),
      60,
    )
    .action(
      async (opts: {
        port: number;
        host: string;
        db?: string;
        autoAward?: number;
        registrationCooldown: number;
        staleAfter: number;
        sweepEvery: number;
      }) => {
        const config = ctx.config();
        const logger = createLogger({ level: config.logLevel });
        const dbPath = opts.db ?? join(config.stateDir, "marketplace.sqlite");
        const { startMarketplace } = await import("../marketplace-server/index.ts");
        const marketplace = await startMarketplace({
          host: opts.host,
          port: opts.port,
          dbPath,
          autoAwardSeconds: opts.autoAward,
          registrationCooldownSeconds: opts.registrationCooldown,
          staleAgentSeconds: opts.staleAfter,
          staleSweepSeconds: opts.sweepEvery,
          logger,
          // Hosted execution (POST /api/jobs/{id}/execute) uses the runner's LLM settings.
          hostedLlm: {
            apiKey: config.fireworksApiKey,
            baseUrl: config.llmBaseUrl,
            model: config.defaultModel,
            timeoutMs: config.llmTimeoutMs,
          },
        });
        logger.info(
          {
            url: marketplace.url,
            db: dbPath,
            autoAwardSeconds: opts.autoAward ?? null,
            staleAfterSeconds: opts.staleAfter,
            sweepEverySeconds: opts.sweepEvery,
          },
          "embedded AgentBazaar marketplace listening",
        );
        onShutdownSignal(async () => {
          await marketplace.close();
          logger.info("marketplace stopped");
        });
      },
    );
}
