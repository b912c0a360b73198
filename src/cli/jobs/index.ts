import type { Command } from "commander";
import type { CliContext } from "../context.ts";
import { registerAward } from "./award.ts";
import { registerComplete } from "./complete.ts";
import { registerCounter } from "./counter.ts";
import { registerList } from "./list.ts";
import { registerPost } from "./post.ts";
import { registerShow } from "./show.ts";

/** `bazaar-runner jobs …`: the poster's side, one file a sub-command. */
export function registerJobsCommands(program: Command, ctx: CliContext): void {
  const jobs = program
    .command("jobs")
    .description("post, list, show and award jobs on BAZAAR_API_URL (the poster's side)");

  registerPost(jobs, ctx);
  registerList(jobs, ctx);
  registerShow(jobs, ctx);
  registerAward(jobs, ctx);
  registerCounter(jobs, ctx);
  registerComplete(jobs, ctx);
}
