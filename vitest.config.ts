import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Timing tests share two cores; run files one or two at a time so they do not starve each other.
    maxWorkers: 2,
    fileParallelism: true,
  },
});
