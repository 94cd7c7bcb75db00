import { defineConfig } from "vitest/config"

// The in-process tests: the ones that can see a mutant in src/kms, src/grpc
// and src/config (a spawned plugin runs its own, unmutated copy of nothing
// Stryker can track, so those tests would only cost time here).
export default defineConfig({
  test: {
    include: ["test/grpc/**/*.test.ts", "test/kms/**/*.test.ts", "test/config/**/*.test.ts", "test/health/**/*.test.ts"],
    // The socket's tests on the real entrypoint (a child process) sit in test/grpc too.
    exclude: ["test/grpc/socketLifecycle.test.ts", "test/grpc/socketSecurity.test.ts", "test/grpc/abstractSocket.test.ts"],
    // The plugin sets process.umask() when it creates its socket: not allowed in worker threads.
    pool: "forks",
    testTimeout: 30_000,
    hookTimeout: 30_000
  }
})
