import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Result from "effect/Result"
import { effectiveConfig } from "../../src/cli/StartLine.ts"
import type { PluginFlags } from "../../src/config/flags.ts"
import { parseConfig } from "../../src/config/parseConfig.ts"
import { hostPort, listenFailure } from "../../src/health/listenFailure.ts"
import { noFlags } from "../support/config.ts"
import { httpGet } from "../support/http.ts"
import { InProcessPlugin } from "../support/InProcessPlugin.ts"

// --metrics-bind-address: where the /metrics listener of --metrics-port
// listens (127.0.0.1 unless told otherwise), so a Prometheus elsewhere can
// scrape a host-network pod while the health endpoints stay on
// --healthz-bind-address. Without --metrics-port, /metrics is served by the
// health listener; asking for another address then is refused at start.

const some = Option.some
const parse = (flags: Partial<PluginFlags>) => parseConfig({ ...noFlags, kmsBackend: some("fake"), ...flags })
const listeners = (flags: Partial<PluginFlags>) =>
  Result.match(parse(flags), {
    onSuccess: (config) => ({ ...effectiveConfig(config), separate: config.metricsPort !== undefined }),
    onFailure: (error) => error.message
  })

describe("--metrics-bind-address", () => {
  it("decides where /metrics listens, and the start line says it", () => {
    const where = (flags: Partial<PluginFlags>) => {
      const result = listeners(flags)
      return typeof result === "string" ? result : [result.healthz, result.metrics, result.separate]
    }
    // Default: with the health endpoints.
    assert.deepStrictEqual(where({}), ["127.0.0.1:8081/healthz", "127.0.0.1:8081/metrics", false])
    assert.deepStrictEqual(where({ healthzBindAddress: some("0.0.0.0") }), ["0.0.0.0:8081/healthz", "0.0.0.0:8081/metrics", false])
    assert.deepStrictEqual(where({ metricsBindAddress: some("127.0.0.1") }), ["127.0.0.1:8081/healthz", "127.0.0.1:8081/metrics", false])
    // Its own listener: on loopback unless told otherwise, whatever the health address.
    assert.deepStrictEqual(where({ metricsPort: some("8082") }), ["127.0.0.1:8081/healthz", "127.0.0.1:8082/metrics", true])
    assert.deepStrictEqual(where({ healthzBindAddress: some("0.0.0.0"), metricsPort: some("8082") }), [
      "0.0.0.0:8081/healthz",
      "127.0.0.1:8082/metrics",
      true
    ])
    assert.deepStrictEqual(where({ metricsPort: some("8082"), metricsBindAddress: some("0.0.0.0") }), [
      "127.0.0.1:8081/healthz",
      "0.0.0.0:8082/metrics",
      true
    ])
    // The health port and address again: one listener; the same port elsewhere: two.
    assert.deepStrictEqual(where({ metricsPort: some("8081"), metricsBindAddress: some("127.0.0.1") }), [
      "127.0.0.1:8081/healthz",
      "127.0.0.1:8081/metrics",
      false
    ])
    assert.deepStrictEqual(where({ metricsPort: some("8081"), metricsBindAddress: some("10.0.0.5") }), [
      "127.0.0.1:8081/healthz",
      "10.0.0.5:8081/metrics",
      true
    ])
  })

  it("another address without --metrics-port is refused (exit 2) with what to add; a bad address is named", () => {
    assert.strictEqual(
      listeners({ metricsBindAddress: some("0.0.0.0") }),
      "--metrics-bind-address: needs --metrics-port: without it /metrics is served by the health listener on " +
        "--healthz-bind-address 127.0.0.1; add --metrics-port (the Go plugin used 8082)"
    )
    assert.strictEqual(
      listeners({ metricsPort: some("8082"), metricsBindAddress: some("localhost") }),
      '--metrics-bind-address: expected an IP address such as 127.0.0.1 or 0.0.0.0, got "localhost"'
    )
    // Only the address problem, not also "needs --metrics-port".
    assert.strictEqual(
      listeners({ metricsBindAddress: some("localhost") }),
      '--metrics-bind-address: expected an IP address such as 127.0.0.1 or 0.0.0.0, got "localhost"'
    )
  })

  it("a listener that cannot start names its flag, the address and the reason", () => {
    const inUse = Object.assign(new Error("listen EADDRINUSE: address already in use 127.0.0.1:8081"), { code: "EADDRINUSE" })
    assert.strictEqual(
      listenFailure("healthz-port", "127.0.0.1", 8081, inUse),
      "--healthz-port 8081: cannot listen on 127.0.0.1:8081: the port is already in use by another process (EADDRINUSE)"
    )
    const denied = Object.assign(new Error("listen EACCES: permission denied 0.0.0.0:82"), { code: "EACCES" })
    assert.strictEqual(
      listenFailure("metrics-port", "::", 82, denied),
      "--metrics-port 82: cannot listen on [::]:82: permission denied (ports below 1024 need root or CAP_NET_BIND_SERVICE) (EACCES)"
    )
    const other = Object.assign(new Error("listen EWHAT: odd"), { code: "EWHAT" })
    assert.strictEqual(
      listenFailure("metrics-port", "10.0.0.5", 8082, other),
      "--metrics-port 8082: cannot listen on 10.0.0.5:8082: listen EWHAT: odd (EWHAT)"
    )
    assert.strictEqual(listenFailure("healthz-port", "127.0.0.1", 1, "boom"), "--healthz-port 1: cannot listen on 127.0.0.1:1: boom")
    assert.strictEqual(hostPort("::1", 9), "[::1]:9")
  })

  it.live("the metrics listener is at --metrics-bind-address; the health endpoints are not there, nor /metrics on theirs", () =>
    Effect.gen(function* () {
      const { metricsUrl, url } = yield* InProcessPlugin
      assert.match(url, /^http:\/\/127\.0\.0\.1:\d+$/)
      assert.match(metricsUrl, /^http:\/\/127\.0\.0\.2:\d+$/)
      const metrics = yield* httpGet(`${metricsUrl}/metrics`)
      assert.strictEqual(metrics.status, 200)
      assert.include(metrics.body, "kms_plugin_build_info")
      assert.strictEqual((yield* httpGet(`${metricsUrl}/healthz`)).status, 404)
      assert.strictEqual((yield* httpGet(`${metricsUrl}/livez`)).status, 404)
      assert.strictEqual((yield* httpGet(`${url}/metrics`)).status, 404)
      assert.strictEqual((yield* httpGet(`${url}/healthz`)).status, 200)
    }).pipe(
      Effect.provide(
        InProcessPlugin.layer({
          health: true,
          flags: { kmsBackend: some("fake"), metricsPort: some("0"), metricsBindAddress: some("127.0.0.2") }
        })
      )
    )
  )
})
