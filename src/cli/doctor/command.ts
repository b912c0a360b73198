import type { Command } from "commander";
import type { CliContext } from "../context.ts";

/** `bazaar-runner doctor`; the checks load only when it runs, so other commands start light. */
export function registerDoctorCommand(program: Command, ctx: CliContext): void {
  program
    .command("doctor")
    .description("check marketplace, MongoDB and LLM reachability and the config")
    .action(async () => {
      const { runDoctor } = await import("./run-doctor.ts");
      const results = await runDoctor(ctx);
      for (const r of results)
        ctx.out(
          `${r.level === "ok" ? "ok  " : r.level === "warn" ? "warn" : "FAIL"}  ${r.name.padEnd(15)} ${r.message}`,
        );
      if (results.some((r) => r.level === "fail")) process.exitCode = 1;
    });
}
