import type { Command } from "commander";
import { createConfigSource } from "../agent-configs/index.ts";
import type { ConfigSnapshot } from "../agent-configs/types.ts";
import { registerAllExecutors } from "../agents/plugins.ts";
import { hasExecutor } from "../agents/registry.ts";
import { silentLogger } from "../logger.ts";
import type { CliContext } from "./context.ts";
import { askRunner, RunnerAgentsSchema } from "./runner-client.ts";
import { table } from "./table.ts";

/** Loads the configured source once, as `start` would, without running anything. */
export async function loadAgentSnapshot(
  ctx: CliContext,
): Promise<{ kind: string; snapshot: ConfigSnapshot }> {
  const config = ctx.config();
  const logger = silentLogger();
  await registerAllExecutors(config.plugins, { cwd: process.cwd(), logger });
  const mongoClient = config.mongodbUri
    ? await (await import("../agent-configs/mongo-connect.ts")).connectMongo(config.mongodbUri, {
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

const SOURCE_REFS: Record<string, string> = {
  mongo: "the MongoDB document's _id or name",
  file: "the file and the entry's index",
  defaults: "the built-in agent's name",
};

export function registerAgentsCommands(program: Command, ctx: CliContext): void {
  program
    .command("agents")
    .description("agents the config source yields")
    .command("list")
    .description(
      "list the agents the config source yields (with the ids a runner at RUNNER_URL registered), and any errors in them",
    )
    .action(async () => {
      const config = ctx.config();
      const [{ kind, snapshot }, running] = await Promise.all([
        loadAgentSnapshot(ctx),
        askRunner(config, "/api/status", RunnerAgentsSchema),
      ]);
      const registered = new Map(
        running.ok ? running.value.agents.map((a) => [a.name, a.agentId] as const) : [],
      );
      ctx.out(
        `source: ${kind}, ${snapshot.agents.length} agent(s), ${snapshot.issues.length} rejected`,
      );
      const rows = snapshot.agents.map(({ config: agent, ref }) => [
        agent.name,
        agent.agent_type,
        agent.status,
        `$${agent.base_rate_usd}`,
        agent.agent_id ?? registered.get(agent.name) ?? "-",
        agent.model ?? "default model",
        ref,
      ]);
      if (rows.length) {
        const header = ["NAME", "TYPE", "STATUS", "RATE", "AGENT ID", "MODEL", "CONFIG ENTRY"];
        for (const line of table([header, ...rows])) ctx.out(`  ${line}`);
        ctx.out(
          running.ok
            ? `AGENT ID: the marketplace id, from the config or as the runner at ${config.runnerUrl} registered it ("-": not registered).`
            : `AGENT ID: the marketplace id from the config; ${running.why}, so the ids a runner registered are not shown ("-").`,
        );
        ctx.out(`CONFIG ENTRY: where the agent's config came from (${SOURCE_REFS[kind] ?? kind}).`);
      }
      if (snapshot.issues.length) ctx.out("rejected:");
      for (const issue of snapshot.issues) ctx.out(`  ${issue.ref}: ${issue.message}`);
    });
}
