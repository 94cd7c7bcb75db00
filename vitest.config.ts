import { defineConfig } from "vitest/config"

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // A cap for a test that hangs, not a measure of speed: on a busy 2-core
    // machine a test that spawns the plugin four times has taken 29 s.
    testTimeout: 120_000,
    hookTimeout: 120_000
  }
})
