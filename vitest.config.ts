import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // Empties test-results/printed.log first; fails the run if a test key shows up in it.
    globalSetup: ["test/support/global-setup.ts"],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Integration suites start servers on loopback; two cores, so keep parallelism modest.
    maxWorkers: 2,
    reporters: ["default"],
  },
});
