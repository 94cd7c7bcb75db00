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
  // Most tests wait on sockets and timers, not the CPU: 4 runners keep 2 cores busy.
  concurrency: 4,
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

// Surviving mutants that are equivalent: no behaviour can tell them apart
// from the original. They stay counted as survivors in the score.
//
// config/parseConfig.ts
//   `problem(...) ?? fallback` → `&&`, and the fallback values ("Info", "",
//     { _tag: "Google" }, "127.0.0.1", the duration fallbacks): a fallback is
//     only used once a problem is recorded, and then the config is discarded.
//   port `n >= 0` → true: the digits-only pattern lets through no negative number.
//   `rawSuffix === undefined` → false: the string "undefined" passes the suffix pattern too.
//   parseEndpoint `colon <= 0` → `< 0`: an empty host fails the host pattern anyway.
//   IPv6 `/^\[(.*)\]$/` losing an anchor: the host pattern only allows brackets around the whole host.
// config/Duration.ts `unit ?? ""`: the unit group is required by the pattern.
// grpc/KeyId.ts: the no-colon branch and `+1`: the text is then no valid version
//   name either way; `suffix !== undefined` → true: as for rawSuffix above.
// grpc/unaryCall.ts: the "cancelled" listener on a call already answered
//   (interrupting a finished fiber does nothing).
// grpc/SocketBinding.ts `owner === undefined`: ownSocket always answers for a path.
// grpc/GrpcServer.ts `binding.cleanUp()` removed: libuv unlinks the socket path
//   itself when grpc-js closes its listener; cleanUp matters for the exit hook.
// grpc/UnixSocket.ts: the probe's 1 s timeout (a unix connect never stays
//   pending), the ENOENT clause and `{ force: true }` (only a concurrent removal
//   differs), chmod to the mode the file already has, `throwIfNoEntry` (its
//   error is caught, nothing is removed either way). Not killable as root (the
//   tests' uid): the "cannot create files" / "cannot remove stale socket" messages.
// grpc/RequestRules.ts `names[0]?.`: the branch has at least one name.
// grpc/KmsProtos.ts: the missing-proto guards (the protos ship in every layout).
// kms/cloud/RetryingCall.ts: `made.set` (a cache of metric handles); the
//   OutOfTime tag check in the schedule's tap (the time check stops first).
// kms/cloud/KeyVersionTracker.ts: `{}` for `{ deadline: undefined }`; `=== null`
//   (parseKeyVersionName(null) takes the same branch).
// kms/cloud/CloudKms.ts: "checking" (a problem is always set without a version);
//   the flight key separator (key names are never ""); `{}` for `{ deadline: undefined }`;
//   `insecure` on a Google endpoint (absent either way).
// kms/cloud/CloudKmsClient.ts: `retryCodes: []` → ["Stryker was here"] (no code
//   matches a string); `{ authClient: undefined }` acts as none; repeated
//   fields decode to [] never undefined. Not killable offline: the Google
//   endpoint branch (needs googleapis.com).
// kms/cloud/auth/GceConfig.ts: `?? ""` after required capture groups, the
//   `<=` loop bound over a trimmed line.
// kms/cloud/auth/HostedMasterAuth.ts: the empty-token check and `token_type: ""`
//   (google-auth-library refuses an empty token and defaults to Bearer itself).
// kms/cloud/Integrity.ts: the type guard before /^\d+$/ (only a bigint would differ).
// kms/fake/FakeKeyFile.ts: `instanceof Error` (readFileSync throws Errors with a code).
// kms/fake/FakeKms.ts: the zero-latency sleep(0); the configured-key lookup (always present).
// kms/KeyNames.ts `match[1] ?? ""`: the group is required.
// kms/SingleFlight.ts: the already-done guard (Effect 4's forkIn never starts the child synchronously).
