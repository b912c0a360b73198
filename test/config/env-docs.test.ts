import { readFile } from "node:fs/promises";
import { describe, expect, it } from "vitest";
import { README, withEnvTable } from "../../scripts/env-table.ts";
import { envTableMarkdown, envVariableDocs, loadConfig } from "../../src/config/env.ts";

/** The README's table and `start --help` come from one source, src/config/env.ts. */
describe("the environment variables' documentation", () => {
  it("the README's table is the generated one (run `npm run docs:env` after changing env.ts)", async () => {
    const readme = await readFile(README, "utf8");
    expect(readme).toContain(envTableMarkdown());
    expect(withEnvTable(readme)).toBe(readme);
  });

  it("documents every variable loadConfig reads, with the default it applies", () => {
    const docs = new Map(envVariableDocs().map((v) => [v.name, v]));
    expect(docs.get("HOST")?.default).toBe("`127.0.0.1`");
    expect(docs.get("AGENT_POLL_INTERVAL")?.default).toBe("`30`");
    expect(docs.get("FIREWORKS_API_KEY")?.default).toBe("–");
    expect(docs.get("RUNNER_URL")?.default).toBe("`http://localhost:$PORT`");
    // Each documented numeric default is the one loadConfig applies.
    const config = loadConfig({});
    expect(docs.get("PORT")?.default).toBe(`\`${config.port}\``);
    expect(docs.get("MARKETPLACE_PORT")?.default).toBe(`\`${config.marketplacePort}\``);
    expect(docs.get("SHUTDOWN_GRACE_PERIOD")?.default).toBe(`\`${config.shutdownGraceMs / 1000}\``);
    for (const v of docs.values()) expect(v.meaning.length, v.name).toBeGreaterThan(10);
  });

  it("replaces only what is between the markers, and refuses a README without them", () => {
    const text = "intro\n<!-- env-table: x -->\nold table\n<!-- /env-table -->\noutro\n";
    expect(withEnvTable(text)).toBe(
      `intro\n<!-- env-table: x -->\n${envTableMarkdown()}\n<!-- /env-table -->\noutro\n`,
    );
    expect(() => withEnvTable("no markers")).toThrow(/no env-table markers/);
  });
});
