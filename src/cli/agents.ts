import type { Command } from "commander";
import { registerAllExecutors } from "../agents/plugins.ts";
import { hasExecutor } from "../agents/registry.ts";
import { createConfigSource } from "../config-sources/index.ts";
import type { ConfigSnapshot } from "../config-sources/types.ts";
import { silentLogger } from "../logger.ts";
import type { CliContext } from "./context.ts";

/** Loads the configured source once, as `start` would, without running anything. */
export async function loadAgentSnapshot(
  ctx: CliContext,
): Promise<{ kind: string; snapshot: ConfigSnapshot }> {
  const config = ctx.config();
  const logger = silentLogger();
  await registerAllExecutors(config.plugins, { cwd: process.cwd(), logger });
  const mongoClient = config.mongodbUri
    ? await (await import("../config-sources/mongo-connect.ts")).connectMongo(config.mongodbUri, {
        serverSelectionTimeoutMS: 5000,
      })
    : undefined;
  try {
    const source = await createConfigSource({
      config,
      mongoClient,
      isKnownType: hasExecutor,
      logger,
    });
    try {
      return { kind: source.kind, snapshot: await source.load() };
    } finally {
      await source.close();
    }
  } finally {
    await mongoClient?.close();
  }
}

export function registerAgentsCommands(program: Command, ctx: CliContext): void {
  program
    .command("agents")
    .description("agents the config source yields")
    .command("list")
    .description("list the agents the config source yields, and any errors in them")
    .action(async () => {
      const { kind, snapshot } = await loadAgentSnapshot(ctx);
      ctx.out(
        `source: ${kind}, ${snapshot.agents.length} agent(s), ${snapshot.issues.length} rejected`,
      );
      for (const { config, ref } of snapshot.agents) {
        ctx.out(
          `  ${config.name.padEnd(18)} ${config.agent_type.padEnd(16)} ${config.status.padEnd(9)} $${config.base_rate_usd}  ${config.agent_id ?? "(registers at start)"}  ${config.model ?? "default model"}  [${ref}]`,
        );
      }
      if (snapshot.issues.length) ctx.out("rejected:");
      for (const issue of snapshot.issues) ctx.out(`  ${issue.ref}: ${issue.message}`);
    });
}
