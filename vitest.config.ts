import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
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
  },
});
