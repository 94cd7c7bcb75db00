import { assert, describe, it } from "@effect/vitest"
import * as Option from "effect/Option"
import * as Result from "effect/Result"
import * as fc from "fast-check"
import { formatDurationMillis, parseDurationMillis } from "../../src/config/Duration.ts"
import { fakeDefaultKeyUri, parseConfig } from "../../src/config/parseConfig.ts"
import { flags, keyUri, noFlags, problemsOf } from "../support/config.ts"

describe("parseConfig", () => {
  it("defaults match the design (Go plugin names and values)", () => {
    const config = Result.getOrThrow(parseConfig(flags({})))
    assert.strictEqual(config.socketPath, "/var/run/kmsplugin/socket.sock")
    assert.strictEqual(config.socketMode, 0o600)
    assert.strictEqual(config.kmsApi, "both")
    assert.strictEqual(config.backend, "cloud")
    assert.strictEqual(config.healthzPort, 8081)
    assert.strictEqual(config.healthzPath, "healthz")
    assert.strictEqual(config.healthzTimeoutMillis, 5_000)
    assert.strictEqual(config.healthzBindAddress, "127.0.0.1")
    assert.strictEqual(config.metricsPath, "metrics")
    assert.strictEqual(config.metricsPort, undefined)
    assert.strictEqual(config.keyRefreshIntervalMillis, 60_000)
    assert.deepStrictEqual(config.cloudEndpoint, { _tag: "Google" })
    assert.strictEqual(config.logFormat, "json")
  })

  it("--key-uri is required for the cloud backend, optional for the fake one", () => {
    assert.deepStrictEqual(problemsOf({ ...noFlags }), ["key-uri"])
    const fake = Result.getOrThrow(parseConfig({ ...noFlags, kmsBackend: Option.some("fake") }))
    assert.strictEqual(fake.keyUri, fakeDefaultKeyUri)
  })

  it("names every bad flag, each once", () => {
    const bad = flags({
      keyUri: Option.some("projects/p/keyRings/r"),
      healthzPort: Option.some("70000"),
      socketMode: Option.some("0644x"),
      healthzTimeout: Option.some("5 seconds"),
      kms: Option.some("v3"),
      kmsEndpoint: Option.some("no-port"),
      healthzBindAddress: Option.some("localhost:80"),
      keySuffix: Option.some("has space")
    })
    assert.sameMembers(problemsOf(bad), [
      "key-uri",
      "healthz-port",
      "socket-mode",
      "healthz-timeout",
      "kms",
      "kms-endpoint",
      "healthz-bind-address",
      "key-suffix"
    ])
  })

  it("accepts any well-formed port and refuses anything else", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 65535 }), (port) => {
        const config = Result.getOrThrow(parseConfig(flags({ healthzPort: Option.some(String(port)) })))
        assert.strictEqual(config.healthzPort, port)
      })
    )
    fc.assert(
      fc.property(
        fc.oneof(
          fc.integer({ min: 65536 }).map(String),
          fc.integer({ max: -1 }).map(String),
          fc.string().filter((s) => !/^\d{1,5}$/.test(s))
        ),
        (raw) => assert.deepStrictEqual(problemsOf(flags({ healthzPort: Option.some(raw) })), ["healthz-port"])
      )
    )
  })

  it("socket modes: octal 0600..0777 with owner read+write, else refused", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0o7777 }), (mode) => {
        const text = `0${mode.toString(8)}`
        const result = parseConfig(flags({ socketMode: Option.some(text) }))
        const valid = mode <= 0o777 && (mode & 0o600) === 0o600
        assert.strictEqual(Result.isSuccess(result), valid, text)
        if (Result.isSuccess(result)) assert.strictEqual(result.success.socketMode, mode)
      })
    )
  })

  it("durations: any Go-style duration round-trips; garbage is refused", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 10 * 3_600_000 }), (millis) => {
        assert.strictEqual(parseDurationMillis(formatDurationMillis(millis)), millis)
        const config = Result.getOrThrow(parseConfig(flags({ healthzTimeout: Option.some(formatDurationMillis(millis)) })))
        assert.strictEqual(config.healthzTimeoutMillis, millis)
      })
    )
    assert.strictEqual(parseDurationMillis("1m30s"), 90_000)
    assert.strictEqual(parseDurationMillis("1.5s"), 1_500)
    for (const bad of ["", "5", "s", "5 s", "-1s", "1d", "1e3ms", "five"]) {
      assert.deepStrictEqual(problemsOf(flags({ healthzTimeout: Option.some(bad) })), ["healthz-timeout"], bad)
    }
  })

  it("crypto key names: well-formed ones pass, any other string is refused", () => {
    const id = fc.stringMatching(/^[A-Za-z0-9_-]{1,63}$/)
    const project = fc.stringMatching(/^[a-z0-9][a-z0-9-]{5,29}$/)
    const location = fc.stringMatching(/^[a-z0-9][a-z0-9-]{0,20}$/)
    fc.assert(
      fc.property(project, location, id, id, (p, l, r, k) => {
        const uri = `projects/${p}/locations/${l}/keyRings/${r}/cryptoKeys/${k}`
        assert.strictEqual(Result.getOrThrow(parseConfig(flags({ keyUri: Option.some(uri) }))).keyUri, uri)
        assert.deepStrictEqual(problemsOf(flags({ keyUri: Option.some(`${uri}/cryptoKeyVersions/1`) })), ["key-uri"])
        assert.deepStrictEqual(problemsOf(flags({ keyUri: Option.some(`${uri}/`) })), ["key-uri"])
      })
    )
  })

  it("repeatable flags fall back to a comma-separated env var; the command line wins", () => {
    const other = keyUri.replace("my-key", "old-key")
    const fromEnv = Result.getOrThrow(parseConfig(flags({}), { KMS_PLUGIN_DECRYPT_KEY_URI: `${other}, ${keyUri}` }))
    assert.deepStrictEqual(fromEnv.decryptKeyUris, [other]) // --key-uri itself is not repeated
    const third = keyUri.replace("my-key", "third")
    const fromFlag = Result.getOrThrow(parseConfig(flags({ decryptKeyUri: [third] }), { KMS_PLUGIN_DECRYPT_KEY_URI: other }))
    assert.deepStrictEqual(fromFlag.decryptKeyUris, [third])
  })

  it("--kms-endpoint takes host:port (IPv6 in brackets); --kms-insecure needs it", () => {
    const endpoint = Result.getOrThrow(parseConfig(flags({ kmsEndpoint: Option.some("127.0.0.1:9000"), kmsInsecure: true })))
    assert.deepStrictEqual(endpoint.cloudEndpoint, { _tag: "Custom", host: "127.0.0.1", port: 9000, insecure: true })
    const v6 = Result.getOrThrow(parseConfig(flags({ kmsEndpoint: Option.some("[::1]:443") })))
    assert.deepStrictEqual(v6.cloudEndpoint, { _tag: "Custom", host: "::1", port: 443, insecure: false })
    assert.deepStrictEqual(problemsOf(flags({ kmsInsecure: true })), ["kms-insecure"])
  })

  it("--integration-test targets the fake Cloud KMS on 127.0.0.1:--fake-kms-port, insecure", () => {
    const config = Result.getOrThrow(parseConfig(flags({ integrationTest: true, fakeKmsPort: Option.some("9123") })))
    assert.deepStrictEqual(config.cloudEndpoint, { _tag: "Custom", host: "127.0.0.1", port: 9123, insecure: true })
  })

  it("choices are case-insensitive", () => {
    const config = Result.getOrThrow(parseConfig(flags({ kms: Option.some("V2"), logFormat: Option.some("TEXT") })))
    assert.strictEqual(config.kmsApi, "v2")
    assert.strictEqual(config.logFormat, "text")
  })
})
