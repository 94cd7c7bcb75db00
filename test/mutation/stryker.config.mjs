// Mutation testing of the core (src/kms, src/grpc, src/config): `npm run mutate`.
// Incremental: results are kept in reports/mutation/ and only what changed
// since is re-tested.
/** @type {import("@stryker-mutator/api/core").PartialStrykerOptions} */
export default {
  packageManager: "npm",
  testRunner: "vitest",
  // forks, not threads: the plugin sets process.umask() around its socket bind.
  vitest: { configFile: "test/mutation/vitest.config.ts", pool: "forks" },
  mutate: ["src/kms/**/*.ts", "src/grpc/**/*.ts", "src/config/**/*.ts"],
  coverageAnalysis: "perTest",
  incremental: true,
  incrementalFile: "reports/mutation/stryker-incremental.json",
  reporters: ["clear-text", "progress", "json", "html"],
  jsonReporter: { fileName: "reports/mutation/mutation.json" },
  htmlReporter: { fileName: "reports/mutation/mutation.html" },
  concurrency: 2,
  timeoutMS: 20000,
  timeoutFactor: 2,
  ignoreStatic: true,
  thresholds: { high: 90, low: 80, break: 80 },
  tempDirName: ".stryker-tmp",
  // Not copied into the sandbox: other runs' sandboxes, build output, local sockets.
  ignorePatterns: ["/.stryker-tmp*", "/dist", "/run", "/scratch", "/coverage"],
  cleanTempDir: "always",
  // Stryker rewrites tsconfig paths with the TypeScript compiler API, which
  // TypeScript 7 (native) does not ship. Our tsconfig has no extends or
  // references to rewrite, so point it at no file and skip that step.
  tsconfigFile: "test/mutation/no-tsconfig-rewrite.json"
}
