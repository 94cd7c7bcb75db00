import { defineConfig } from "vitest/config"

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // Integration tests spawn the plugin and talk to it over real sockets.
    testTimeout: 30_000,
    hookTimeout: 30_000
  }
})
