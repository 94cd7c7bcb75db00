import * as fs from "node:fs"
import { assert, describe, it } from "@effect/vitest"
import { status } from "@grpc/grpc-js"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import type { PluginFlags } from "../../src/config/flags.ts"
import { cloudKeyUri, FakeCloud } from "../fakes/FakeCloud.ts"
import { httpGet, sample } from "../support/http.ts"
import { InProcessPlugin } from "../support/InProcessPlugin.ts"

// The whole plugin in process (src/main.ts's composition): its health server over the socket.

const fake = (flags: Partial<PluginFlags> = {}) => InProcessPlugin.layer({ health: true, flags, clientTimeoutMillis: 5_000 })

const cloud = (flags: Partial<PluginFlags> = {}, fakeCloud = FakeCloud.layer) =>
  InProcessPlugin.layer({
    backend: "cloud",
    health: true,
    flags: {
      keyRefreshInterval: Option.some("100ms"),
      kmsRetryInitialBackoff: Option.some("5ms"),
      kmsRetryMaxBackoff: Option.some("20ms"),
      kmsMaxAttempts: Option.some("2"),
      ...flags
    },
    clientTimeoutMillis: 5_000
  }).pipe(Layer.provideMerge(fakeCloud))

const pluginClient = InProcessPlugin.useSync((plugin) => plugin.client)

describe("health server", () => {
  it.live("fake backend: /livez, /healthz, /healthz?ping-kms=true, /readyz answer 200 ok on 127.0.0.1", () =>
    Effect.gen(function* () {
      const { url } = yield* InProcessPlugin
      assert.match(url, /^http:\/\/127\.0\.0\.1:\d+$/)
      for (const path of ["/livez", "/healthz", "/healthz?ping-kms=true", "/readyz"]) {
        const answer = yield* httpGet(`${url}${path}`)
        assert.deepStrictEqual([answer.status, answer.body], [200, "ok"], path)
      }
      assert.strictEqual((yield* httpGet(`${url}/nope`)).status, 404)
    }).pipe(Effect.provide(fake()))
  )

  it.live("--healthz-path and --metrics-port move the endpoints (Go plugin layout)", () =>
    Effect.gen(function* () {
      const { metricsUrl, url } = yield* InProcessPlugin
      assert.notStrictEqual(metricsUrl, url)
      assert.strictEqual((yield* httpGet(`${url}/custom/health`)).status, 200)
      assert.strictEqual((yield* httpGet(`${url}/healthz`)).status, 404)
      assert.strictEqual((yield* httpGet(`${url}/metrics`)).status, 404)
      assert.strictEqual((yield* httpGet(`${metricsUrl}/custom-metrics`)).status, 200)
    }).pipe(
      Effect.provide(
        fake({
          healthzPath: Option.some("custom/health"),
          metricsPort: Option.some("0"),
          metricsPath: Option.some("custom-metrics")
        })
      )
    )
  )

  it.live("socket gone: /livez and /healthz answer 503 with the reason", () =>
    Effect.gen(function* () {
      const { config, url } = yield* InProcessPlugin
      fs.rmSync(config.socketPath)
      const livez = yield* httpGet(`${url}/livez`)
      assert.strictEqual(livez.status, 503)
      assert.match(livez.body, /UNAVAILABLE|No connection|ENOENT/)
      assert.notInclude(livez.body, "\n")
      assert.strictEqual((yield* httpGet(`${url}/healthz`)).status, 503)
    }).pipe(Effect.provide(fake()))
  )

  // The round trip never ends (an hour of --fake-latency), so it is slower than any timeout however busy the
  // machine; --healthz-timeout leaves Status (which has no latency) seconds to answer /healthz and /livez.
  it.live("a KMS round trip slower than --healthz-timeout: /healthz?ping-kms=true is 503, /healthz and /livez stay 200", () =>
    Effect.gen(function* () {
      const { url } = yield* InProcessPlugin
      const ping = yield* httpGet(`${url}/healthz?ping-kms=true`)
      assert.strictEqual(ping.status, 503)
      assert.include(ping.body, "DEADLINE_EXCEEDED")
      assert.strictEqual((yield* httpGet(`${url}/healthz`)).status, 200)
      assert.strictEqual((yield* httpGet(`${url}/livez`)).status, 200)
    }).pipe(Effect.provide(fake({ fakeLatency: Option.some("1h"), healthzTimeout: Option.some("2s") })))
  )

  it.live("Cloud KMS down: /healthz and /readyz are 503 with the reason, /livez stays 200", () =>
    Effect.gen(function* () {
      const { url } = yield* InProcessPlugin
      const cloudKms = yield* FakeCloud
      cloudKms.inject({ fault: { kind: "fail", code: status.UNAVAILABLE, message: "region outage" } })
      const client = yield* pluginClient
      yield* client.v2Status.pipe(
        Effect.flatMap((s) => (s.healthz === "ok" ? Effect.fail("still ok") : Effect.void)),
        Effect.eventually
      )
      const healthz = yield* httpGet(`${url}/healthz`)
      assert.strictEqual(healthz.status, 503)
      assert.include(healthz.body, "region outage")
      assert.strictEqual((yield* httpGet(`${url}/readyz`)).status, 503)
      assert.strictEqual((yield* httpGet(`${url}/livez`)).status, 200)
    }).pipe(Effect.scoped, Effect.provide(cloud()))
  )

  it.live("Cloud KMS denying every permission: /livez stays 200, ping-kms is 503 naming the permission", () =>
    Effect.gen(function* () {
      const { url } = yield* InProcessPlugin
      const cloudKms = yield* FakeCloud
      cloudKms.denyPermissions(cloudKeyUri, [
        "cloudkms.cryptoKeyVersions.useToEncrypt",
        "cloudkms.cryptoKeyVersions.useToDecrypt",
        "cloudkms.cryptoKeys.get"
      ])
      assert.strictEqual((yield* httpGet(`${url}/livez`)).status, 200)
      const ping = yield* httpGet(`${url}/healthz?ping-kms=true`)
      assert.strictEqual(ping.status, 503)
      assert.include(ping.body, "PERMISSION_DENIED")
      assert.include(ping.body, "cloudkms.cryptoKeyVersions.useToEncrypt")
    }).pipe(Effect.provide(cloud()))
  )

  it.live("IAM diagnostics: /readyz names a missing permission (checked once, cached); /livez never asks", () =>
    Effect.gen(function* () {
      const { url } = yield* InProcessPlugin
      const cloudKms = yield* FakeCloud
      cloudKms.denyPermissions(cloudKeyUri, ["cloudkms.cryptoKeyVersions.useToDecrypt"])
      cloudKms.resetCounters()
      for (let i = 0; i < 5; i++) assert.strictEqual((yield* httpGet(`${url}/livez`)).status, 200)
      assert.strictEqual(cloudKms.calls.TestIamPermissions, 0)
      const answers = yield* Effect.forEach(Array.from({ length: 20 }), () => httpGet(`${url}/readyz`), { concurrency: 10 })
      for (const answer of answers) {
        assert.strictEqual(answer.status, 503)
        assert.include(answer.body, `cloudkms.cryptoKeyVersions.useToDecrypt on ${cloudKeyUri}`)
        assert.notInclude(answer.body, "useToEncrypt")
      }
      assert.strictEqual(cloudKms.calls.TestIamPermissions, 1)
    }).pipe(Effect.provide(cloud({ keyRefreshInterval: Option.some("1m") })))
  )

  it.live("an endpoint without TestIamPermissions (an emulator, a proxy): /readyz follows the key's reachability alone", () =>
    Effect.gen(function* () {
      const { url } = yield* InProcessPlugin
      const cloudKms = yield* FakeCloud
      const unimplemented = (text: string) =>
        sample(text, "kms_plugin_cloudkms_calls_total", { operation: "testIamPermissions", outcome: "UNIMPLEMENTED" }) ?? 0
      const before = unimplemented((yield* httpGet(`${url}/metrics`)).body)
      const first = yield* httpGet(`${url}/readyz`)
      assert.deepStrictEqual([first.status, first.body], [200, "ok"])
      // Asked once: UNIMPLEMENTED is an answer, not a failed check.
      assert.strictEqual(unimplemented((yield* httpGet(`${url}/metrics`)).body) - before, 1)
      // The key unreachable: not ready, whatever permissions say.
      cloudKms.inject({ fault: { kind: "fail", code: status.UNAVAILABLE, message: "region outage" } })
      const client = yield* pluginClient
      yield* client.v2Status.pipe(
        Effect.flatMap((s) => (s.healthz === "ok" ? Effect.fail("still ok") : Effect.void)),
        Effect.eventually
      )
      const readyz = yield* httpGet(`${url}/readyz`)
      assert.strictEqual(readyz.status, 503)
      assert.include(readyz.body, "region outage")
    }).pipe(Effect.scoped, Effect.provide(cloud({}, FakeCloud.layerWith({ testIamPermissions: false }))))
  )

  it.live("1000 ping-kms probes in a burst cost one KMS round trip (2 Cloud KMS calls)", () =>
    Effect.gen(function* () {
      const { url } = yield* InProcessPlugin
      const cloudKms = yield* FakeCloud
      cloudKms.resetCounters()
      const answers = yield* Effect.forEach(Array.from({ length: 1000 }), () => httpGet(`${url}/healthz?ping-kms=true`), {
        concurrency: 50
      })
      assert.isTrue(answers.every((a) => a.status === 200))
      assert.strictEqual(cloudKms.calls.Encrypt + cloudKms.calls.Decrypt, 2)
    }).pipe(Effect.provide(cloud({ healthzKmsCache: Option.some("1h"), keyRefreshInterval: Option.some("1m") })))
  )

  it.live("/metrics: Prometheus text whose values move with calls and carry the right labels", () =>
    Effect.gen(function* () {
      const { url } = yield* InProcessPlugin
      const client = yield* pluginClient
      const before = yield* httpGet(`${url}/metrics`)
      assert.strictEqual(before.status, 200)
      assert.strictEqual(before.contentType, "text/plain; version=0.0.4; charset=utf-8")
      // Metrics are process-wide: compare with what they said before.
      const delta = (text: string, name: string, labels: Record<string, string>) =>
        (sample(text, name, labels) ?? 0) - (sample(before.body, name, labels) ?? 0)
      const encrypted = yield* client.v2Encrypt({ plaintext: Buffer.from("m") })
      yield* client.v2Encrypt({ plaintext: Buffer.from("n") })
      yield* client.v2Decrypt({ ciphertext: encrypted.ciphertext, keyId: encrypted.keyId })
      yield* Effect.flip(client.v2Encrypt({ plaintext: new Uint8Array(0) }))
      const after = (yield* httpGet(`${url}/metrics`)).body
      assert.strictEqual(delta(after, "kms_plugin_grpc_requests_total", { api: "v2", method: "Encrypt", code: "OK" }), 2)
      assert.strictEqual(delta(after, "kms_plugin_grpc_requests_total", { api: "v2", method: "Encrypt", code: "INVALID_ARGUMENT" }), 1)
      assert.strictEqual(delta(after, "kms_plugin_grpc_request_duration_seconds_count", { api: "v2", method: "Decrypt" }), 1)
      assert.strictEqual(delta(after, "kms_plugin_cloudkms_calls_total", { operation: "decrypt", outcome: "OK" }), 1)
      assert.strictEqual(delta(after, "kms_plugin_cloudkms_calls_total", { operation: "encrypt", outcome: "OK" }), 2)
      // The _info convention: the key and its current version as labels, value 1.
      assert.strictEqual(sample(after, "kms_plugin_key_version_info", { key: cloudKeyUri, version: "1" }), 1)
      assert.strictEqual(sample(after, "kms_plugin_kms_healthy"), 1)
      assert.isAbove(sample(after, "process_resident_memory_bytes") ?? 0, 10_000_000)
      assert.isDefined(sample(after, "nodejs_eventloop_lag_p99_seconds"))
    }).pipe(Effect.scoped, Effect.provide(cloud({ keyRefreshInterval: Option.some("1m") })))
  )
})
