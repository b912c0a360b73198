import type { RunnerConfig } from "../../config/env.ts";
import { createSharedPool } from "../../pool.ts";
import { errorMessage, registerSecret, registerUriSecrets } from "../../secrets.ts";
import type { CliContext } from "../context.ts";
import { agentsCheck } from "./checks/agents.ts";
import { llmCheck } from "./checks/llm.ts";
import { marginCheck } from "./checks/margin.ts";
import { marketplaceCheck } from "./checks/marketplace.ts";
import { mongodbCheck } from "./checks/mongodb.ts";
import { runnerCheck } from "./checks/runner.ts";
import { walletsCheck } from "./checks/wallets.ts";
import { type CheckResult, type DoctorCheck, type DoctorState, result, whose } from "./types.ts";

/**
 * Doctor's checks, in report order, after the configuration itself. A check reads what
 * earlier ones left in the state: agents needs MongoDB's answer, wallets the agents.
 */
export const DOCTOR_CHECKS: readonly DoctorCheck[] = [
  runnerCheck,
  marketplaceCheck,
  mongodbCheck,
  agentsCheck,
  walletsCheck,
  llmCheck,
  marginCheck,
];

/** Runs every check and reports one line each; failing checks say what to fix. */
export async function runDoctor(
  ctx: CliContext,
  checks: readonly DoctorCheck[] = DOCTOR_CHECKS,
): Promise<CheckResult[]> {
  let config: RunnerConfig;
  try {
    config = ctx.config();
  } catch (error) {
    // Nothing else can be checked without a valid configuration.
    return [
      result(
        "config",
        "fail",
        `${errorMessage(error)} (in ${whose(ctx)}) — fix the variable in the environment or .env`,
      ),
    ];
  }
  const results = [
    result(
      "config",
      "ok",
      `checked ${whose(ctx)}: valid (owner ${config.ownerId}, poll ${config.pollIntervalMs / 1000} s, heartbeat ${config.heartbeatIntervalMs / 1000} s)`,
    ),
  ];
  registerSecret(config.fireworksApiKey);
  registerSecret(config.walletMnemonic);
  registerSecret(config.posterPrivateKey);
  registerUriSecrets(config.mongodbUri);
  const pool = createSharedPool({ connections: 2 });
  const state: DoctorState = { ctx, config, pool };
  try {
    for (const check of checks) {
      try {
        results.push(...(await check.run(state)));
      } catch (error) {
        // A check that breaks is a failed line of the report, never a crashed doctor.
        results.push(result(check.name, "fail", `the check itself failed: ${errorMessage(error)}`));
      }
    }
  } finally {
    await pool.close();
  }
  return results;
}
