import * as Option from "effect/Option"
import * as Result from "effect/Result"
import type { PluginFlags } from "../../src/config/flags.ts"
import type { PluginConfigShape } from "../../src/config/PluginConfig.ts"
import { parseConfig } from "../../src/config/parseConfig.ts"

// Flags and config for tests: the flags as the CLI hands them over, the
// config they make, and the config tests' shorthands (a valid --key-uri
// under whatever flags a test varies, and the message an operator reads).

/** Flags as the CLI would hand them over, all absent. */
export const noFlags: PluginFlags = {
  keyUri: Option.none(),
  decryptKeyUri: [],
  keySuffix: Option.none(),
  decryptKeySuffix: [],
  kms: Option.none(),
  kmsBackend: Option.none(),
  kmsEndpoint: Option.none(),
  kmsInsecure: undefined,
  kmsMaxAttempts: Option.none(),
  kmsAttemptTimeout: Option.none(),
  kmsRetryInitialBackoff: Option.none(),
  kmsRetryMaxBackoff: Option.none(),
  kmsCallTimeout: Option.none(),
  kmsQpsLimit: Option.none(),
  kmsBurst: Option.none(),
  keyRefreshInterval: Option.none(),
  pathToUnixSocket: Option.none(),
  socketMode: Option.none(),
  shutdownGracePeriod: Option.none(),
  healthzBindAddress: Option.none(),
  healthzPort: Option.none(),
  healthzPath: Option.none(),
  healthzTimeout: Option.none(),
  healthzKmsCache: Option.none(),
  metricsPort: Option.none(),
  metricsBindAddress: Option.none(),
  metricsPath: Option.none(),
  gceConfig: Option.none(),
  integrationTest: undefined,
  fakeKmsPort: Option.none(),
  fakeKeyFile: Option.none(),
  fakeLatency: Option.none(),
  logFormat: Option.none(),
  logLevel: Option.none(),
  logtostderr: false,
  alsologtostderr: false,
  v: Option.none()
}

/** The config the CLI would build from these flags (which must be valid). */
export const configFrom = (flags: Partial<PluginFlags>): PluginConfigShape => {
  const parsed = parseConfig({ ...noFlags, ...flags })
  if (Result.isFailure(parsed)) throw new Error(`test config invalid: ${parsed.failure.message}`)
  return parsed.success
}

/** The crypto key the config tests give as --key-uri (the README's example). */
export const keyUri = "projects/my-project/locations/us-east1/keyRings/my-ring/cryptoKeys/my-key"

type Env = Readonly<Record<string, string>>

/** All flags absent but --key-uri (keyUri), then these. */
export const flags = (overrides: Partial<PluginFlags>): PluginFlags => ({ ...noFlags, keyUri: Option.some(keyUri), ...overrides })

/** parseConfig of `flags(overrides)` and this environment. */
export const parse = (overrides: Partial<PluginFlags>, env: Env = {}) => parseConfig(flags(overrides), env)

/** The config of `flags(overrides)`, which must be valid. */
export const parsed = (overrides: Partial<PluginFlags>, env: Env = {}): PluginConfigShape => Result.getOrThrow(parse(overrides, env))

/** What the operator reads for `flags(overrides)`: the ConfigError's message, or "valid". */
export const messageOf = (overrides: Partial<PluginFlags>, env: Env = {}): string =>
  Result.match(parse(overrides, env), { onSuccess: () => "valid", onFailure: (e) => e.message })

/** The flags a ConfigError names for these flags, in order ([] when they are valid). */
export const problemsOf = (f: PluginFlags, env: Env = {}): Array<string> =>
  Result.match(parseConfig(f, env), { onSuccess: () => [], onFailure: (e) => e.problems.map((p) => p.flag) })
