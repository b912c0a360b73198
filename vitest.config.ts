import { defineConfig } from "vitest/config";

// Tests run the sources: a plugin's `import "bazaar-runner/agents"` must reach the same
// registry as the code under test, not the compiled dist/ that `npm start` uses.
const SOURCE_CONDITIONS = ["bazaar-runner-source", "node", "import", "default"];

/** Whole-runner tests: each starts a runner against loopback servers (slow, scenario-sized). */
const SCENARIOS = "test/scenarios/**/*.test.ts";

export default defineConfig({
  resolve: { conditions: SOURCE_CONDITIONS },
  ssr: { resolve: { conditions: SOURCE_CONDITIONS, externalConditions: ["bazaar-runner-source"] } },
  test: {
    // Empties test-results/printed.log first; fails the run if a test key shows up in it.
    globalSetup: ["test/support/global-setup.ts"],
    // Backstops only: tests wait on named conditions with their own generous deadlines
    // (test/support/wait.ts). Tests that start child processes (Node loading the whole
    // runner, many seconds each on a busy 2-core machine) need minutes there.
    testTimeout: 120_000,
    hookTimeout: 60_000,
    // Integration suites start servers on loopback; two cores, so keep parallelism modest.
    maxWorkers: 2,
    reporters: ["default"],
    // `npm run test:unit` and `npm run test:scenarios` run one project each.
    projects: [
      {
        extends: true,
        test: { name: "unit", include: ["test/**/*.test.ts"], exclude: [SCENARIOS] },
      },
      { extends: true, test: { name: "scenarios", include: [SCENARIOS] } },
    ],
  },
});
