import { assert, describe, it } from "@effect/vitest"
import * as Option from "effect/Option"
import * as Result from "effect/Result"
import { ConfigError } from "../../src/config/ConfigError.ts"
import { formatDurationMillis, parseDurationMillis } from "../../src/config/Duration.ts"
import type { PluginFlags } from "../../src/config/flags.ts"
import { fakeDefaultKeyUri, parseConfig } from "../../src/config/parseConfig.ts"
import { keyUri, messageOf as messageFor, noFlags } from "../support/config.ts"

// What an operator reads for each mistake: one line per flag, saying what
// was expected and what was given.

const some = Option.some

describe("config error messages", () => {
  it("one line per problem, each starting with the flag", () => {
    const error = new ConfigError({
      problems: [
        { flag: "a", message: "x" },
        { flag: "b", message: "y" }
      ]
    })
    assert.strictEqual(error.message, "--a: x\n--b: y")
  })

  const cases: ReadonlyArray<readonly [Partial<PluginFlags>, string]> = [
    [{ kms: some("v3") }, '--kms: expected one of v1, v2, both, got "v3"'],
    [{ kmsBackend: some("aws") }, '--kms-backend: expected one of cloud, fake, got "aws"'],
    [{ logFormat: some("xml") }, '--log-format: expected one of json, text, got "xml"'],
    [{ logLevel: some("loud") }, '--log-level: expected debug, info, warn or error (any case), got "loud"'],
    [{ healthzTimeout: some("soon") }, '--healthz-timeout: expected a duration such as 500ms, 3s or 1m, got "soon"'],
    [{ healthzTimeout: some("0") }, '--healthz-timeout: must be at least 1ms, got "0"'],
    [{ keyRefreshInterval: some("50ms") }, '--key-refresh-interval: must be at least 100ms, got "50ms"'],
    [{ healthzPort: some("99999") }, '--healthz-port: expected a port number 0-65535, got "99999"'],
    [{ metricsPort: some("x") }, '--metrics-port: expected a port number 0-65535, got "x"'],
    [{ fakeKmsPort: some("-1") }, '--fake-kms-port: expected a port number 0-65535, got "-1"'],
    [{ kmsMaxAttempts: some("0") }, '--kms-max-attempts: expected a whole number 1-100, got "0"'],
    [{ kmsMaxAttempts: some("101") }, '--kms-max-attempts: expected a whole number 1-100, got "101"'],
    [{ healthzPath: some("a b") }, '--healthz-path: expected a URL path such as healthz, got "a b"'],
    [{ metricsPath: some("?x") }, '--metrics-path: expected a URL path such as metrics, got "?x"'],
    [
      { keyUri: some("k") },
      `--key-uri: expected a crypto key name such as projects/my-project/locations/us-east1/keyRings/my-ring/cryptoKeys/my-key, got "k"`
    ],
    [
      { decryptKeyUri: ["k"] },
      `--decrypt-key-uri: expected a crypto key name such as projects/my-project/locations/us-east1/keyRings/my-ring/cryptoKeys/my-key, got "k"`
    ],
    [{ keySuffix: some("a:b") }, "--key-suffix: expected 1-64 letters, digits, '.', '_' or '-', got \"a:b\""],
    [
      { decryptKeySuffix: ["x".repeat(65)] },
      `--decrypt-key-suffix: expected 1-64 letters, digits, '.', '_' or '-', got "${"x".repeat(65)}"`
    ],
    [{ kmsInsecure: true }, "--kms-insecure: needs --kms-endpoint (plaintext is never used with Google's endpoint)"],
    [{ kmsEndpoint: some("host") }, '--kms-endpoint: expected host:port, got "host"'],
    [{ kmsEndpoint: some(":443") }, '--kms-endpoint: expected host:port, got ":443"'],
    [{ kmsEndpoint: some("host:0") }, '--kms-endpoint: expected host:port, got "host:0"'],
    [{ kmsEndpoint: some("bad_host:443") }, '--kms-endpoint: expected host:port, got "bad_host:443"'],
    [
      { kmsRetryInitialBackoff: some("2s"), kmsRetryMaxBackoff: some("1s") },
      "--kms-retry-max-backoff: must not be shorter than --kms-retry-initial-backoff"
    ],
    [{ pathToUnixSocket: some("") }, "--path-to-unix-socket: must not be empty"],
    [{ pathToUnixSocket: some("@") }, "--path-to-unix-socket: must not be empty"],
    [{ pathToUnixSocket: some("/tmp/a\u0000b") }, "--path-to-unix-socket: must not contain NUL"],
    [{ pathToUnixSocket: some(`/${"d".repeat(107)}`) }, "--path-to-unix-socket: unix socket paths are limited to 107 bytes, got 108"],
    [
      { socketMode: some("0400") },
      '--socket-mode: expected an octal mode from 0600 to 0777 that lets the owner read and write, got "0400"'
    ],
    [
      { socketMode: some("01777") },
      '--socket-mode: expected an octal mode from 0600 to 0777 that lets the owner read and write, got "01777"'
    ],
    [
      { healthzBindAddress: some("localhost") },
      '--healthz-bind-address: expected an IP address such as 127.0.0.1 or 0.0.0.0, got "localhost"'
    ],
    [
      { healthzBindAddress: some("256.0.0.1") },
      '--healthz-bind-address: expected an IP address such as 127.0.0.1 or 0.0.0.0, got "256.0.0.1"'
    ]
  ]
  for (const [flags, expected] of cases) {
    it(expected, () => assert.strictEqual(messageFor(flags), expected))
  }

  it("the cloud backend without a key says how to give one", () => {
    assert.strictEqual(
      messageFor({ keyUri: Option.none() }),
      "--key-uri: required with --kms-backend cloud, e.g. --key-uri projects/my-project/locations/us-east1/keyRings/my-ring/cryptoKeys/my-key"
    )
  })

  it("valid edge values pass: abstract sockets, 107-byte paths, 0o-modes, IPv6 binds, 0 ports, zero grace", () => {
    for (const flags of [
      { pathToUnixSocket: some("@kms") },
      { pathToUnixSocket: some(`/${"d".repeat(106)}`) },
      { socketMode: some("0o660") },
      { socketMode: some("600") },
      { healthzBindAddress: some("::") },
      { healthzBindAddress: some("0.0.0.0") },
      { healthzPort: some("0") },
      { shutdownGracePeriod: some("0") },
      { healthzKmsCache: some("0s") },
      { keySuffix: some("") }
    ] satisfies ReadonlyArray<Partial<PluginFlags>>) {
      assert.strictEqual(messageFor(flags), "valid", JSON.stringify(flags))
    }
  })

  it("what the valid values become", () => {
    const config = Result.getOrThrow(
      parseConfig({
        ...noFlags,
        kmsBackend: some("FAKE"),
        keySuffix: some(""),
        decryptKeySuffix: ["a", "a", "b"],
        decryptKeyUri: [keyUri.replace("my-key", "x"), keyUri.replace("my-key", "x")],
        healthzPath: some("/live/ness"),
        metricsPort: some("8081"),
        healthzPort: some("8081"),
        kmsAttemptTimeout: some("1.5s"),
        logLevel: some("WARNING")
      })
    )
    assert.strictEqual(config.backend, "fake")
    assert.strictEqual(config.keyUri, fakeDefaultKeyUri)
    assert.strictEqual(config.keySuffix, undefined)
    assert.deepStrictEqual(config.decryptKeySuffixes, ["a", "b"])
    assert.deepStrictEqual(config.decryptKeyUris, [keyUri.replace("my-key", "x")])
    assert.strictEqual(config.healthzPath, "live/ness")
    assert.strictEqual(config.metricsPort, undefined)
    assert.strictEqual(config.retry.attemptTimeoutMillis, 1500)
    assert.deepStrictEqual(config.retry, {
      maxAttempts: 5,
      initialBackoffMillis: 50,
      maxBackoffMillis: 1000,
      attemptTimeoutMillis: 1500,
      callTimeoutMillis: 10_000
    })
    assert.strictEqual(config.logLevel, "Warn")
    assert.strictEqual(config.shutdownGraceMillis, 10_000)
    assert.strictEqual(config.healthzKmsCacheMillis, 5_000)
    assert.strictEqual(config.fakeLatencyMillis, 0)
    assert.strictEqual(config.fakeKeyFile, undefined)
    assert.strictEqual(config.gceConfig, undefined)
  })

  it("Go-style durations: every unit, sums, and the shortest spelling back", () => {
    assert.strictEqual(parseDurationMillis("2h"), 7_200_000)
    assert.strictEqual(parseDurationMillis("1h1m1s1ms"), 3_661_001)
    assert.strictEqual(parseDurationMillis("1500us"), 1.5)
    assert.strictEqual(parseDurationMillis("1500µs"), 1.5)
    assert.strictEqual(parseDurationMillis("2000000ns"), 2)
    assert.strictEqual(parseDurationMillis("0"), 0)
    assert.strictEqual(parseDurationMillis("1.5m"), 90_000)
    assert.isUndefined(parseDurationMillis("1"))
    assert.isUndefined(parseDurationMillis("1sx"))
    assert.deepStrictEqual([0, 1, 999, 1000, 60_000, 90_000, 3_600_000, 3_660_000].map(formatDurationMillis), [
      "0s",
      "1ms",
      "999ms",
      "1s",
      "1m",
      "90s",
      "1h",
      "61m"
    ])
  })
})
