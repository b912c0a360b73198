import type { Command } from "commander";
import type { z } from "zod";
import type { AgentConfig } from "../agents/types.ts";
import type { RunnerConfig } from "../config/env.ts";
import { originOf } from "../config/settings.ts";
import { createLlmClient } from "../llm/client.ts";
import { LlmError } from "../llm/types.ts";
import { MarketplaceClient } from "../marketplace/client.ts";
import { createSharedPool } from "../pool.ts";
import { errorMessage, redactUri, registerSecret, registerUriSecrets } from "../secrets.ts";
import { loadAgentSnapshot } from "./agents.ts";
import type { CliContext } from "./context.ts";
import { askRunner, RunnerSettingsSchema } from "./runner-client.ts";

/** A 200 answer whose text is empty: the LLM is reachable and accepted the key. */
function isEmptyCompletion(error: unknown): boolean {
  return error instanceof LlmError && error.kind === "empty";
}

export type CheckLevel = "ok" | "warn" | "fail";

export interface CheckResult {
  name: string;
  level: CheckLevel;
  message: string;
}

/** Runs every check and reports one line each; failing checks say what to fix. */
export async function runDoctor(ctx: CliContext): Promise<CheckResult[]> {
  const results: CheckResult[] = [];
  const add = (name: string, level: CheckLevel, message: string) =>
    results.push({ name, level, message });

  let config: ReturnType<CliContext["config"]>;
  try {
    config = ctx.config();
    add(
      "config",
      "ok",
      `checked ${whose(ctx)}: valid (owner ${config.ownerId}, poll ${config.pollIntervalMs / 1000} s, heartbeat ${config.heartbeatIntervalMs / 1000} s)`,
    );
  } catch (error) {
    add(
      "config",
      "fail",
      `${errorMessage(error)} (in ${whose(ctx)}) — fix the variable in the environment or .env`,
    );
    return results;
  }
  const running = await askRunner(config, "/api/settings", RunnerSettingsSchema);
  if (running.ok) {
    const differences = compareSettings(config, running.value);
    add(
      "runner",
      differences.length ? "warn" : "ok",
      differences.length
        ? `the runner at ${config.runnerUrl} runs with other settings than ${whose(ctx)}: ${differences.join("; ")}`
        : `the runner at ${config.runnerUrl} runs with the same settings (poll ${running.value.pollIntervalSeconds} s, heartbeat ${running.value.heartbeatIntervalSeconds} s, agents from ${running.value.agentSource})`,
    );
  } else {
    add("runner", "ok", `${running.why}: nothing to compare with`);
  }
  registerSecret(config.fireworksApiKey);
  registerSecret(config.walletMnemonic);
  registerSecret(config.posterPrivateKey);
  registerUriSecrets(config.mongodbUri);
  const pool = createSharedPool({ connections: 2 });
  try {
    const client = new MarketplaceClient({
      baseUrl: config.bazaarApiUrl,
      dispatcher: pool,
      maxAttempts: 1,
      timeoutMs: 5000,
    });
    try {
      const agents = await client.listAgents();
      const jobs = await client.listJobs({ status: "posted" });
      add(
        "marketplace",
        "ok",
        `${config.bazaarApiUrl} answers the AgentBazaar API (${agents.length} agents, ${jobs.jobs.length} posted jobs)`,
      );
    } catch (error) {
      if (config.bazaarApiUrlExplicit) {
        add(
          "marketplace",
          "fail",
          `${errorMessage(error)} — check BAZAAR_API_URL and that the service is up`,
        );
      } else {
        add(
          "marketplace",
          "warn",
          `nothing answers at ${config.bazaarApiUrl}; \`bazaar-runner start\` will serve the embedded marketplace there`,
        );
      }
    }

    let agentConfigs: AgentConfig[] | undefined;
    let mongoUnreachable = false;
    if (config.mongodbUri) {
      try {
        const { connectMongo } = await import("../agent-configs/mongo-connect.ts");
        const mongo = await connectMongo(config.mongodbUri, { serverSelectionTimeoutMS: 5000 });
        try {
          const agents = mongo.db(config.mongodbDb).collection("agents");
          const managed = await agents.countDocuments({ managed: true });
          add(
            "mongodb",
            "ok",
            `${redactUri(config.mongodbUri)} reachable; ${config.mongodbDb}.agents has ${managed} managed agent(s)`,
          );
          const stream = agents.watch([], { maxAwaitTimeMS: 200 });
          try {
            await stream.tryNext();
            add("change streams", "ok", "available: config changes apply within about a second");
          } catch (error) {
            add(
              "change streams",
              "warn",
              `unavailable (${errorMessage(error)}); changes apply at the periodic reload every ${config.reloadIntervalMs / 1000} s — run MongoDB as a replica set for instant reloads`,
            );
          } finally {
            await stream.close().catch(() => undefined);
          }
        } finally {
          await mongo.close();
        }
      } catch (error) {
        mongoUnreachable = true;
        add(
          "mongodb",
          "fail",
          `${errorMessage(error)} — check MONGODB_URI, the network and the credentials`,
        );
      }
    } else {
      add(
        "mongodb",
        "ok",
        config.agentsFile
          ? `not used: agents come from ${config.agentsFile}`
          : "not used: the built-in agents register themselves",
      );
    }

    if (mongoUnreachable) {
      // Loading the agents would wait out the same server selection timeout again.
      add("agents", "warn", "not checked: the agents come from MongoDB, which is unreachable");
    } else {
      try {
        const { kind, snapshot } = await loadAgentSnapshot(ctx);
        agentConfigs = snapshot.agents.map((a) => a.config);
        const level: CheckLevel =
          snapshot.agents.length === 0 ? "fail" : snapshot.issues.length ? "warn" : "ok";
        add(
          "agents",
          level,
          `${snapshot.agents.length} agent(s) from ${kind}${snapshot.issues.length ? `; rejected: ${snapshot.issues.map((i) => `${i.ref}: ${i.message}`).join("; ")}` : ""}${snapshot.agents.length === 0 ? " — nothing to run" : ""}`,
        );
      } catch (error) {
        add("agents", "fail", errorMessage(error));
      }
    }

    const { checkWallets } = await import("./doctor-wallet.ts");
    const wallets = checkWallets(config, agentConfigs);
    add("wallets", wallets.level, wallets.message);

    if (!config.fireworksApiKey) {
      add(
        "llm",
        "warn",
        "FIREWORKS_API_KEY is not set: agents bid, but won jobs get a failed result — set it (and LLM_BASE_URL for another server)",
      );
    } else {
      const llm = createLlmClient({
        apiKey: config.fireworksApiKey,
        baseUrl: config.llmBaseUrl,
        dispatcher: pool,
        timeoutMs: 20_000,
        maxAttempts: 1,
      });
      try {
        // A few tokens rather than one: a model may spend its first token on whitespace
        // or a think tag, and one empty token would read as a failure.
        const completion = await llm.complete({
          model: config.defaultModel,
          system: "Answer with one word.",
          prompt: "Say ok.",
          temperature: 0,
          maxTokens: 8,
        });
        add(
          "llm",
          "ok",
          `${config.llmBaseUrl} answered with ${completion.model} in ${completion.latencyMs} ms`,
        );
      } catch (error) {
        if (isEmptyCompletion(error)) {
          // The server took the key and the model and answered 200: reachable and usable.
          add(
            "llm",
            "ok",
            `${config.llmBaseUrl} accepted the key and answered ${config.defaultModel} (an empty text for the short check prompt)`,
          );
        } else {
          add(
            "llm",
            "fail",
            `${config.llmBaseUrl}: ${errorMessage(error)} — check FIREWORKS_API_KEY, LLM_BASE_URL and LLM_MODEL`,
          );
        }
      }
    }
  } finally {
    await pool.close();
  }
  return results;
}

/** Whose configuration doctor checks: this process's, not a running runner's. */
function whose(ctx: CliContext): string {
  return `this shell's environment${ctx.fromDotEnv.length ? " and ./.env" : ""}`;
}

/** Settings a running runner has that this shell would not give it, in words. */
export function compareSettings(
  config: RunnerConfig,
  running: z.infer<typeof RunnerSettingsSchema>,
): string[] {
  const pairs: Array<[string, string, number | string, number | string]> = [
    ["poll", "AGENT_POLL_INTERVAL", running.pollIntervalSeconds, config.pollIntervalMs / 1000],
    [
      "heartbeat",
      "AGENT_HEARTBEAT_INTERVAL",
      running.heartbeatIntervalSeconds,
      config.heartbeatIntervalMs / 1000,
    ],
    [
      "reload",
      "AGENT_RELOAD_INTERVAL",
      running.reloadIntervalSeconds,
      config.reloadIntervalMs / 1000,
    ],
    ["owner", "AGENT_OWNER_ID", running.ownerId, config.ownerId],
  ];
  return pairs
    .filter(([, , there, mine]) => there !== mine)
    .map(([what, variable, there, mine]) => {
      const unit = typeof there === "number" ? " s" : "";
      return `${what} ${there}${unit} there (${originOf(running, variable)}), ${mine}${unit} here`;
    });
}

export function registerDoctorCommand(program: Command, ctx: CliContext): void {
  program
    .command("doctor")
    .description("check marketplace, MongoDB and LLM reachability and the config")
    .action(async () => {
      const results = await runDoctor(ctx);
      for (const r of results)
        ctx.out(
          `${r.level === "ok" ? "ok  " : r.level === "warn" ? "warn" : "FAIL"}  ${r.name.padEnd(15)} ${r.message}`,
        );
      if (results.some((r) => r.level === "fail")) process.exitCode = 1;
    });
}
