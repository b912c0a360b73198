import { Command, CommanderError } from "commander";
import { ConfigError, envHelpText, loadConfig, type RunnerConfig } from "../config/env.ts";
import { isBazaarRunnerError } from "../errors.ts";
import { createLogger } from "../logger.ts";
import { errorMessage, scrub } from "../secrets.ts";
import { registerAgentsCommands } from "./agents.ts";
import type { CliContext } from "./context.ts";
import { registerDoctorCommand } from "./doctor/command.ts";
import { loadDotEnv } from "./env-file.ts";
import { registerJobsCommands } from "./jobs/index.ts";
import { registerMarketplaceCommand } from "./marketplace.ts";
import { onShutdownSignal } from "./signals.ts";

async function runStart(ctx: CliContext): Promise<void> {
  const config = ctx.config();
  const logger = createLogger({ level: config.logLevel });
  // Loaded here, not at the top: `jobs`, `agents` and `doctor` need none of the runner.
  const { startApp } = await import("./start.ts");
  const app = await startApp({ config, logger, fromDotEnv: ctx.fromDotEnv });
  // Process-level safety net: log and count, never die of a stray rejection.
  process.on("unhandledRejection", (reason) => {
    app.runner.metrics.unhandledErrors.inc({ kind: "rejection" });
    logger.error({ problem: errorMessage(reason) }, "unhandled rejection");
  });
  process.on("uncaughtException", (error) => {
    app.runner.metrics.unhandledErrors.inc({ kind: "exception" });
    logger.error({ problem: errorMessage(error) }, "uncaught exception");
  });
  onShutdownSignal(async () => {
    await app.stop();
    logger.flush();
  });
}

export function buildProgram(ctx: CliContext): Command {
  const program = new Command("bazaar-runner")
    .description("Runs many AI agents in one process against an AgentBazaar marketplace")
    .showHelpAfterError()
    .exitOverride();
  program
    .command("start", { isDefault: true })
    .description("run the runner (and the embedded marketplace when BAZAAR_API_URL is unset)")
    .addHelpText("after", `\n${envHelpText()}`)
    .action(() => runStart(ctx));
  registerMarketplaceCommand(program, ctx);
  registerJobsCommands(program, ctx);
  registerAgentsCommands(program, ctx);
  registerDoctorCommand(program, ctx);
  return program;
}

/**
 * What the CLI prints for a failed command: one line, and for an error not meant for the
 * operator (a bug, not a `userFacing` code of docs/errors.md) its stack when
 * LOG_LEVEL=debug. Every user-facing error is known by its code, so none is missed.
 */
export function failureText(error: unknown, debug: boolean): string {
  const prefix = error instanceof ConfigError ? "configuration error: " : "";
  const line = `bazaar-runner: ${prefix}${errorMessage(error)}\n`;
  const userFacing = isBazaarRunnerError(error) && error.userFacing;
  if (userFacing || !debug || !(error instanceof Error)) return line;
  return `${line}${scrub(error.stack ?? "")}\n`;
}

export async function main(argv: string[]): Promise<number> {
  const fromDotEnv = loadDotEnv();
  let config: RunnerConfig | undefined;
  const ctx: CliContext = {
    fromDotEnv,
    config: () => {
      config ??= loadConfig();
      return config;
    },
    out: (line) => process.stdout.write(`${line}\n`),
  };
  try {
    const program = buildProgram(ctx);
    // `start` is the default command, so commander would read a mistyped command as an
    // argument of `start` ("too many arguments for 'start'"); name the real mistake.
    const first = argv[2];
    const known = program.commands.flatMap((c) => [c.name(), ...c.aliases()]);
    if (
      first !== undefined &&
      !first.startsWith("-") &&
      first !== "help" &&
      !known.includes(first)
    ) {
      process.stderr.write(
        `bazaar-runner: unknown command '${first}' (commands: ${known.join(", ")}; see --help)\n`,
      );
      return 1;
    }
    await program.parseAsync(argv);
    return typeof process.exitCode === "number" ? process.exitCode : 0;
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode;
    process.stderr.write(failureText(error, process.env.LOG_LEVEL === "debug"));
    return 1;
  }
}

if (import.meta.main) {
  const code = await main(process.argv);
  // `start` and `marketplace` keep running on their servers; others end here.
  if (code !== 0) process.exit(code);
}
