import { assert, describe, it } from "@effect/vitest"
import * as Option from "effect/Option"
import * as Result from "effect/Result"
import * as fc from "fast-check"
import { envVarOf, type PluginFlags } from "../../src/config/flags.ts"
import { parseConfig } from "../../src/config/parseConfig.ts"
import { noFlags } from "../support/config.ts"

// Every flag also reads KMS_PLUGIN_<FLAG> when absent from the command line.
// Whichever way a value comes, it is checked the same way; a mistake is named
// the way the operator made it: `--flag: …` on the command line,
// `KMS_PLUGIN_FLAG: …` in the environment (never a raw SchemaError).

const keyUri = "projects/my-project/locations/us-east1/keyRings/my-ring/cryptoKeys/my-key"

type Kind = "text" | "list" | "toggle"

interface FlagCase {
  readonly kind: Kind
  readonly good: fc.Arbitrary<string>
  /** Undefined: the flag takes any text (a path checked later). */
  readonly bad?: fc.Arbitrary<string>
}

const port = fc.integer({ min: 0, max: 65535 }).map(String)
const badPort = fc.oneof(fc.integer({ min: 65536, max: 10_000_000 }).map(String), fc.constantFrom("x", "-1", "80a", ""))
const duration = (minMillis: number) => fc.integer({ min: Math.max(minMillis, 1), max: 1000 }).map((ms) => `${ms}ms`)
const badDuration = fc.constantFrom("soon", "5 seconds", "1h2x", "-3s", "")
const ip = fc.oneof(fc.ipV4(), fc.constantFrom("::", "::1", "0.0.0.0"))
const badIp = fc.constantFrom("localhost", "256.0.0.1", "10.0.0", "")
const anyCase = (words: ReadonlyArray<string>) =>
  fc.tuple(fc.constantFrom(...words), fc.boolean()).map(([w, up]) => (up ? w.toUpperCase() : w))
const suffix = fc.stringMatching(/^[A-Za-z0-9._-]{1,64}$/)
const badSuffix = fc.constantFrom("has space", "a:b", "x".repeat(65), "ü")
const keyName = fc.stringMatching(/^[a-z][a-z0-9-]{0,20}$/).map((k) => `projects/p/locations/global/keyRings/r/cryptoKeys/${k}`)
const badKeyName = fc.constantFrom("k", "projects/p/keyRings/r/cryptoKeys/k", "projects/p/locations/l/keyRings/r")
const toggleWord = anyCase(["true", "false", "yes", "no", "on", "off", "1", "0", "t", "f"])

/** Every plugin flag that has an env var, with values it takes and values it refuses. */
const cases: Readonly<Record<string, FlagCase>> = {
  "key-uri": { kind: "text", good: keyName, bad: badKeyName },
  "decrypt-key-uri": { kind: "list", good: keyName, bad: badKeyName },
  "key-suffix": { kind: "text", good: suffix, bad: badSuffix },
  "decrypt-key-suffix": { kind: "list", good: suffix, bad: badSuffix },
  kms: { kind: "text", good: anyCase(["v1", "v2", "both"]), bad: fc.constantFrom("v3", "all", "") },
  "kms-backend": { kind: "text", good: anyCase(["cloud", "fake"]), bad: fc.constantFrom("aws", "") },
  "kms-endpoint": {
    kind: "text",
    good: port.filter((p) => p !== "0").map((p) => `kms.example.com:${p}`),
    bad: fc.constantFrom("host", ":443", "host:0")
  },
  "kms-insecure": { kind: "toggle", good: toggleWord, bad: fc.constantFrom("maybe", "2", "") },
  "kms-max-attempts": { kind: "text", good: fc.integer({ min: 1, max: 100 }).map(String), bad: fc.constantFrom("0", "101", "x") },
  "kms-attempt-timeout": { kind: "text", good: duration(1), bad: badDuration },
  "kms-retry-initial-backoff": { kind: "text", good: duration(1), bad: badDuration },
  "kms-retry-max-backoff": { kind: "text", good: fc.integer({ min: 50, max: 1000 }).map((ms) => `${ms}ms`), bad: badDuration },
  "kms-call-timeout": { kind: "text", good: duration(1), bad: badDuration },
  "kms-qps-limit": { kind: "text", good: fc.integer({ min: 1, max: 100_000 }).map(String), bad: fc.constantFrom("0", "-5", "fast", "") },
  "kms-burst": { kind: "text", good: fc.integer({ min: 1, max: 999_999 }).map(String), bad: fc.constantFrom("0", "1.5", "many", "") },
  "key-refresh-interval": { kind: "text", good: duration(100), bad: badDuration },
  "path-to-unix-socket": { kind: "text", good: fc.stringMatching(/^\/tmp\/[a-z]{1,20}\.sock$/), bad: fc.constantFrom("", "@") },
  "socket-mode": {
    kind: "text",
    good: fc.constantFrom("0600", "0640", "0660", "0777", "600"),
    bad: fc.constantFrom("0400", "01777", "rw")
  },
  "shutdown-grace-period": { kind: "text", good: duration(0), bad: badDuration },
  "healthz-bind-address": { kind: "text", good: ip, bad: badIp },
  "healthz-port": { kind: "text", good: port, bad: badPort },
  "healthz-path": { kind: "text", good: fc.stringMatching(/^[a-z]{1,8}(\/[a-z]{1,8})?$/), bad: fc.constantFrom("a b", "?x", "") },
  "healthz-timeout": { kind: "text", good: duration(1), bad: badDuration },
  "healthz-kms-cache": { kind: "text", good: duration(0), bad: badDuration },
  "metrics-port": { kind: "text", good: port, bad: badPort },
  "metrics-bind-address": { kind: "text", good: ip, bad: badIp },
  "metrics-path": { kind: "text", good: fc.stringMatching(/^[a-z]{1,8}$/), bad: fc.constantFrom("a b", "?x") },
  "gce-config": { kind: "text", good: fc.stringMatching(/^\/[a-z]{1,10}\.conf$/) },
  "integration-test": { kind: "toggle", good: toggleWord, bad: fc.constantFrom("sure", "") },
  "fake-kms-port": { kind: "text", good: port, bad: badPort },
  "fake-key-file": { kind: "text", good: fc.stringMatching(/^\/[a-z]{1,10}\.json$/) },
  "fake-latency": { kind: "text", good: duration(0), bad: badDuration },
  "log-format": { kind: "text", good: anyCase(["json", "text"]), bad: fc.constantFrom("xml", "") },
  "log-level": { kind: "text", good: anyCase(["debug", "info", "warn", "warning", "error"]), bad: fc.constantFrom("loud", "verbose") }
}

const isFlagKey = (key: string): key is keyof PluginFlags => key in noFlags

/** key-uri -> keyUri */
const keyOf = (flag: string): keyof PluginFlags => {
  const key = flag.replace(/-([a-z])/g, (_, letter: string) => letter.toUpperCase())
  if (!isFlagKey(key)) throw new Error(`no flag ${flag}`)
  return key
}

/** A valid configuration that does not set `flag` itself (so its env var is read). */
const baseFlags = (flag: string): PluginFlags => {
  const base: PluginFlags = {
    ...noFlags,
    keyUri: Option.some(keyUri),
    kmsEndpoint: Option.some("127.0.0.1:9000"),
    metricsPort: Option.some("9100"),
    // --kms-burst needs a limit to burst.
    kmsQpsLimit: Option.some("100")
  }
  return { ...base, [keyOf(flag)]: noFlags[keyOf(flag)] }
}

const onCommandLine = (flag: string, kind: Kind, value: string): PluginFlags => {
  const key = keyOf(flag)
  const given = kind === "list" ? [value] : kind === "toggle" ? /^(true|yes|on|1|t)$/i.test(value) : Option.some(value)
  return { ...baseFlags(flag), [key]: given }
}

const outcome = (flags: PluginFlags, env: Record<string, string>) =>
  Result.match(parseConfig(flags, env), { onSuccess: (config) => ({ config }), onFailure: (error) => ({ message: error.message }) })

const flagNames = Object.keys(cases)

describe("env vars", () => {
  it("the table covers every plugin flag that has an env var", () => {
    const hidden = ["logtostderr", "alsologtostderr", "v"]
    assert.sameMembers(
      flagNames.map(keyOf),
      Object.keys(noFlags).filter((k) => !hidden.includes(k))
    )
  })

  it("a good value in the env var gives the same config as the flag", () => {
    const good = fc
      .constantFrom(...flagNames)
      .chain((flag) => cases[flag]?.good.map((value) => ({ flag, value })) ?? fc.constant(undefined))
    fc.assert(
      fc.property(good, (given) => {
        if (given === undefined) return
        const { flag, value } = given
        const kind = cases[flag]?.kind ?? "text"
        const fromEnv = outcome(baseFlags(flag), { [envVarOf(flag)]: value })
        assert.property(fromEnv, "config", `${envVarOf(flag)}=${JSON.stringify(value)}: ${JSON.stringify(fromEnv)}`)
        assert.deepStrictEqual(fromEnv, outcome(onCommandLine(flag, kind, value), {}))
      }),
      { numRuns: 500 }
    )
  })

  it("a bad value in the env var is named by the variable, with the flag's own message", () => {
    const bad = fc
      .constantFrom(...flagNames.filter((flag) => cases[flag]?.bad !== undefined))
      .chain((flag) => (cases[flag]?.bad ?? fc.constant("")).map((value) => ({ flag, value })))
    fc.assert(
      fc.property(bad, ({ flag, value }) => {
        const variable = envVarOf(flag)
        const fromEnv = outcome(baseFlags(flag), { [variable]: value })
        assert.property(fromEnv, "message", `${variable}=${JSON.stringify(value)} was accepted`)
        const message = "message" in fromEnv ? fromEnv.message : ""
        assert.match(message, new RegExp(`^${variable}: `), message)
        assert.notInclude(message, `--${flag}:`)
        assert.notInclude(message, "SchemaError")
        // The same words as for the flag (toggles: effect/cli refuses a bad --flag=value before parseConfig).
        if (cases[flag]?.kind !== "toggle") {
          const fromFlag = outcome(onCommandLine(flag, cases[flag]?.kind ?? "text", value), {})
          assert.strictEqual(message, "message" in fromFlag ? fromFlag.message.replace(`--${flag}:`, `${variable}:`) : "accepted")
        }
      }),
      { numRuns: 500 }
    )
  })

  it("the flag on the command line wins over its env var, even a bad one", () => {
    fc.assert(
      fc.property(fc.constantFrom(...flagNames), (flag) => {
        const { bad, good, kind } = cases[flag] ?? { kind: "text", good: fc.constant("") }
        if (bad === undefined) return
        const value = fc.sample(good, { numRuns: 1, seed: 1 })[0] ?? ""
        const badValue = fc.sample(bad, { numRuns: 1, seed: 1 })[0] ?? ""
        assert.deepStrictEqual(
          outcome(onCommandLine(flag, kind, value), { [envVarOf(flag)]: badValue }),
          outcome(onCommandLine(flag, kind, value), {})
        )
      })
    )
  })

  it("examples", () => {
    assert.deepStrictEqual(outcome(baseFlags("kms-insecure"), { KMS_PLUGIN_KMS_INSECURE: "maybe" }), {
      message: 'KMS_PLUGIN_KMS_INSECURE: expected true or false, got "maybe"'
    })
    assert.deepStrictEqual(outcome({ ...noFlags }, { KMS_PLUGIN_KMS_INSECURE: "yes" }), {
      message:
        "--key-uri: required with --kms-backend cloud, e.g. --key-uri projects/my-project/locations/us-east1/keyRings/my-ring/cryptoKeys/my-key\n" +
        "KMS_PLUGIN_KMS_INSECURE: needs --kms-endpoint (plaintext is never used with Google's endpoint)"
    })
    // A toggle's env var only stands in when the command line is silent: --kms-insecure=false wins over "true".
    const off = outcome({ ...baseFlags("kms-insecure"), kmsInsecure: false }, { KMS_PLUGIN_KMS_INSECURE: "true" })
    assert.deepStrictEqual("config" in off ? off.config.cloudEndpoint : off, {
      _tag: "Custom",
      host: "127.0.0.1",
      port: 9000,
      insecure: false
    })
  })
})
