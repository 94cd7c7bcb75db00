import * as fs from "node:fs"
import * as net from "node:net"
import * as path from "node:path"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import { makePluginClient } from "../../src/client/PluginClient.ts"
import { cloudKeyUri } from "../fakes/FakeCloud.ts"
import { fakeCloudKms } from "../fakes/FakeCloudKms.ts"
import { kill, type Running, run } from "../support/childProcess.ts"
import { spawnPlugin } from "../support/spawnPlugin.ts"
import { tempDir } from "../support/tempDir.ts"
import { alertRules, dashboardExpressions, requireExecutable, rulesFile, usedMetricNames } from "./assets.ts"

// End to end: a real Prometheus server scrapes the real plugin (CloudKms
// backend against the fake Cloud KMS, after a few calls) and loads the shipped
// rules; every metric a rule or a dashboard panel uses must be in it, every
// rule must evaluate, every panel query must run. Waits on Prometheus's log
// and HTTP API (polled), never on a fixed sleep.

const QueryAnswer = Schema.Struct({
  status: Schema.String,
  error: Schema.optional(Schema.String),
  data: Schema.optional(Schema.Struct({ result: Schema.Array(Schema.Unknown) }))
})
const TargetsAnswer = Schema.Struct({
  data: Schema.Struct({
    activeTargets: Schema.Array(
      Schema.Struct({ health: Schema.String, lastError: Schema.String, labels: Schema.Record(Schema.String, Schema.String) })
    )
  })
})
const RulesAnswer = Schema.Struct({
  data: Schema.Struct({
    groups: Schema.Array(
      Schema.Struct({
        rules: Schema.Array(Schema.Struct({ name: Schema.String, health: Schema.String, lastError: Schema.optional(Schema.String) }))
      })
    )
  })
})

const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const server = net.createServer()
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const address = server.address()
      server.close(() => (typeof address === "object" && address !== null ? resolve(address.port) : reject(new Error("no port"))))
    })
  })

const getJson = async <A>(schema: Schema.Decoder<A>, url: string): Promise<A> => {
  const response = await fetch(url)
  return Schema.decodeUnknownSync(schema)(await response.json())
}

/** Asks until `ready` says yes (Prometheus scrapes and evaluates every second); fails with the last answer after `deadlineMillis`. */
const pollUntil = async <A>(ask: () => Promise<A>, ready: (a: A) => boolean, what: string, deadlineMillis = 60_000): Promise<A> => {
  const giveUp = Date.now() + deadlineMillis
  for (;;) {
    const answer = await ask()
    if (ready(answer)) return answer
    if (Date.now() > giveUp) throw new Error(`${what}: not reached; last answer ${JSON.stringify(answer)}`)
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
}

const prometheusConfig = (metricsTarget: string, metricsPath: string) => `global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
rule_files:
  - ${JSON.stringify(rulesFile)}
scrape_configs:
  - job_name: kms-plugin
    metrics_path: ${JSON.stringify(metricsPath)}
    static_configs:
      - targets: [${JSON.stringify(metricsTarget)}]
`

/** A Prometheus server on a free loopback port, ready to answer; stopped with the scope. */
const startPrometheus = (dir: string, config: string) =>
  Effect.acquireRelease(
    Effect.promise(async () => {
      const binary = requireExecutable("prometheus")
      fs.writeFileSync(path.join(dir, "prometheus.yml"), config)
      // The port is free when picked; if another process takes it first, Prometheus exits and we pick again.
      for (let attempt = 1; ; attempt++) {
        const port = await freePort()
        const server = run(
          binary,
          [
            `--config.file=${path.join(dir, "prometheus.yml")}`,
            `--storage.tsdb.path=${path.join(dir, `data-${attempt}`)}`,
            `--web.listen-address=127.0.0.1:${port}`
          ],
          { cwd: dir }
        )
        try {
          await server.waitForLine(/Server is ready to receive web requests/)
          return { server, url: `http://127.0.0.1:${port}` }
        } catch (error) {
          if (attempt === 3) throw error
        }
      }
    }),
    ({ server }) => Effect.promise(() => stopGracefully(server))
  )

const stopGracefully = async (server: Running) => {
  if (server.child.exitCode === null && server.child.signalCode === null) server.child.kill("SIGTERM")
  const stopped = await Promise.race([
    server.exited.then(() => true),
    new Promise<boolean>((resolve) => setTimeout(() => resolve(false), 10_000))
  ])
  if (!stopped) await kill(server)
}

const operations = ["encrypt", "decrypt", "getCryptoKey", "testIamPermissions"]
const rpcs = [
  ["v2", "Status"],
  ["v2", "Encrypt"],
  ["v2", "Decrypt"],
  ["v1beta1", "Version"],
  ["v1beta1", "Encrypt"],
  ["v1beta1", "Decrypt"]
]

describe("a real Prometheus scraping the real plugin", () => {
  it.live(
    "finds every metric the rules and the dashboard use; every rule evaluates; every panel query runs",
    () =>
      Effect.gen(function* () {
        const dir = yield* tempDir
        const socket = path.join(dir, "kms.sock")
        const cloud = yield* fakeCloudKms({ keys: [cloudKeyUri] })
        const plugin = yield* spawnPlugin(
          [
            "--kms-backend",
            "cloud",
            "--key-uri",
            cloudKeyUri,
            "--kms-endpoint",
            cloud.address,
            "--kms-insecure",
            "--path-to-unix-socket",
            socket,
            "--healthz-port",
            "0",
            // The rate limit's series exist only with a limit: far above what the test sends.
            "--kms-qps-limit",
            "1000"
          ],
          { GCE_METADATA_HOST: "127.0.0.1:9", METADATA_SERVER_DETECTION: "none" }
        )
        const healthLine = yield* Effect.promise(() => plugin.waitForLine(/health server on http:\/\/127\.0\.0\.1:\d+/))
        const metricsTarget = /http:\/\/(127\.0\.0\.1:\d+)/.exec(healthLine)?.[1] ?? ""

        // A few calls on both APIs, as kube-apiserver would make.
        const client = yield* makePluginClient(`unix://${socket}`, { timeoutMillis: 10_000 })
        const encrypted = yield* client.v2Encrypt({ plaintext: Buffer.from("seed") })
        yield* client.v2Decrypt({ ciphertext: encrypted.ciphertext, keyId: encrypted.keyId })
        const v1 = yield* client.v1Encrypt(Buffer.from("old"))
        yield* client.v1Decrypt(v1.cipher)

        const { url } = yield* startPrometheus(dir, prometheusConfig(metricsTarget, "/metrics"))
        const targets = yield* Effect.promise(() =>
          pollUntil(
            () => getJson(TargetsAnswer, `${url}/api/v1/targets`),
            (a) => a.data.activeTargets.some((t) => t.health === "up"),
            "the plugin target up"
          )
        )
        assert.strictEqual(targets.data.activeTargets[0]?.labels["job"], "kms-plugin")
        const instance = targets.data.activeTargets[0]?.labels["instance"] ?? ""
        const query = (promql: string) =>
          Effect.promise(() => getJson(QueryAnswer, `${url}/api/v1/query?query=${encodeURIComponent(promql)}`))

        // Every rule loaded and evaluated without error (they need a scrape or two).
        const rules = yield* Effect.promise(() =>
          pollUntil(
            () => getJson(RulesAnswer, `${url}/api/v1/rules`),
            (a) => a.data.groups.flatMap((g) => g.rules).every((r) => r.health !== "unknown"),
            "every rule evaluated"
          )
        )
        const evaluated = rules.data.groups.flatMap((g) => g.rules)
        assert.deepStrictEqual(
          evaluated.map((r) => r.name).sort(),
          alertRules()
            .map((r) => r.alert)
            .sort()
        )
        for (const rule of evaluated) assert.strictEqual(rule.health, "ok", `${rule.name}: ${rule.lastError ?? ""}`)

        // Every panel query (variables filled in) runs without error.
        for (const { expr, where } of dashboardExpressions()) {
          if (where.startsWith("variable")) continue
          const promql = expr.replaceAll("$__rate_interval", "1m").replaceAll("$job", "kms-plugin").replaceAll("$instance", instance)
          const answer = yield* query(promql)
          assert.strictEqual(answer.status, "success", `${where}: ${answer.error ?? ""}`)
        }

        // Every metric used, and the series the contract says exist from the start.
        const required = [
          ...[...usedMetricNames().keys()].map((name) => ({ what: name, promql: `{__name__="${name}"}` })),
          { what: "kms_plugin_key_version_info with a key label", promql: 'kms_plugin_key_version_info{key!=""} == 1' },
          ...operations.flatMap((op) => [
            { what: `kms_plugin_cloudkms_calls_total{operation="${op}"}`, promql: `kms_plugin_cloudkms_calls_total{operation="${op}"}` },
            {
              what: `kms_plugin_cloudkms_retries_total{operation="${op}"}`,
              promql: `kms_plugin_cloudkms_retries_total{operation="${op}"}`
            },
            {
              what: `kms_plugin_cloudkms_integrity_failures_total{operation="${op}"}`,
              promql: `kms_plugin_cloudkms_integrity_failures_total{operation="${op}"}`
            }
          ]),
          ...rpcs.flatMap(([api, method]) => [
            {
              what: `kms_plugin_grpc_requests_total{api="${api}",method="${method}"}`,
              promql: `kms_plugin_grpc_requests_total{api="${api}",method="${method}"}`
            },
            {
              what: `kms_plugin_grpc_request_duration_seconds_count{api="${api}",method="${method}"}`,
              promql: `kms_plugin_grpc_request_duration_seconds_count{api="${api}",method="${method}"}`
            }
          ])
        ]
        const missing: Array<string> = []
        for (const { promql, what } of required) {
          const answer = yield* query(`count(${promql})`)
          assert.strictEqual(answer.status, "success", `${what}: ${answer.error ?? ""}`)
          if ((answer.data?.result.length ?? 0) === 0) missing.push(what)
        }
        assert.deepStrictEqual(missing, [], `not found in Prometheus after scraping the plugin:\n  ${missing.join("\n  ")}`)
      }).pipe(Effect.scoped),
    120_000
  )
})
