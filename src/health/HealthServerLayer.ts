import { createServer } from "node:http"
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as HttpRouter from "effect/http/HttpRouter"
import * as HttpServer from "effect/http/HttpServer"
import * as HttpServerRequest from "effect/http/HttpServerRequest"
import * as HttpServerResponse from "effect/http/HttpServerResponse"
import * as PrometheusMetrics from "effect/observability/PrometheusMetrics"
import { PluginConfig, type PluginConfigShape } from "../config/PluginConfig.ts"
import { KeyManagement } from "../kms/KeyManagement.ts"
import { FakeKmsControl } from "../kms/fake/FakeKms.ts"
import { makeScrapeGauges } from "../observability/ProcessMetrics.ts"
import { makeRuntimeMetrics } from "../observability/RuntimeMetrics.ts"
import { type CheckOutcome, HealthChecks } from "./HealthChecks.ts"
import { HealthServer } from "./HealthServer.ts"

// What operators and kubelets look at, on 127.0.0.1 by default:
//   /livez     the process and its socket answer (never fails for Cloud KMS)
//   /healthz   (--healthz-path) Status/Version through the socket; ?ping-kms=true adds a cached KMS round trip
//   /readyz    the KMS key is reachable
//   /metrics   (--metrics-path) Prometheus text, here or on --metrics-port

const answer = (outcome: CheckOutcome) =>
  outcome.ok
    ? HttpServerResponse.text("ok")
    : HttpServerResponse.text(outcome.reason.replaceAll("\n", " "), { status: 503 })

const prometheusContentType = "text/plain; version=0.0.4; charset=utf-8"

const metricsRoute = (path: string) =>
  HttpRouter.use(Effect.fn(function*(router) {
    const kms = yield* KeyManagement
    const refreshGauges = yield* makeScrapeGauges
    const runtimeMetrics = yield* makeRuntimeMetrics
    yield* router.add("GET", `/${path}`, Effect.gen(function*() {
      yield* refreshGauges(yield* kms.status)
      const text = (yield* PrometheusMetrics.format()) + (yield* runtimeMetrics)
      return HttpServerResponse.text(text, { contentType: prometheusContentType })
    }))
  }))

const healthRoutes = (config: PluginConfigShape) =>
  HttpRouter.use(Effect.fn(function*(router) {
    const checks = yield* HealthChecks
    yield* router.add("GET", "/livez", Effect.map(checks.livez, answer))
    yield* router.add("GET", "/readyz", Effect.map(checks.readyz, answer))
    yield* router.add("GET", `/${config.healthzPath}`, Effect.gen(function*() {
      const params = yield* HttpServerRequest.ParsedSearchParams
      return answer(yield* checks.healthz(params["ping-kms"] === "true"))
    }))
    // Development only: rotate the fake backend's key (there is no such thing with Cloud KMS).
    const fake = yield* Effect.serviceOption(FakeKmsControl)
    if (Option.isSome(fake)) {
      yield* router.add("POST", "/fake/rotate", Effect.map(fake.value.rotate(), (version) =>
        HttpServerResponse.text(`${config.keyUri}/cryptoKeyVersions/${version}\n`)))
    }
  }))

const listen = (config: PluginConfigShape, port: number) =>
  NodeHttpServer.layer(createServer, { host: config.healthzBindAddress, port })

const urlOf = Effect.gen(function*() {
  const server = yield* HttpServer.HttpServer
  return HttpServer.formatAddress(server.address)
})

export const HealthServerLayer = Layer.unwrap(Effect.gen(function*() {
  const config = yield* PluginConfig
  const separateMetrics = config.metricsPort !== undefined
  const main = Layer.effect(
    HealthServer,
    Effect.map(urlOf, (url) => ({ url, metricsUrl: url }))
  ).pipe(
    Layer.merge(HttpRouter.serve(
      separateMetrics ? healthRoutes(config) : Layer.merge(healthRoutes(config), metricsRoute(config.metricsPath)),
      { disableLogger: true, disableListenLog: true }
    )),
    Layer.provide(listen(config, config.healthzPort))
  )
  if (config.metricsPort === undefined) return main
  const metrics = Layer.effect(MetricsUrl, urlOf).pipe(
    Layer.merge(HttpRouter.serve(metricsRoute(config.metricsPath), { disableLogger: true, disableListenLog: true })),
    Layer.provide(listen(config, config.metricsPort))
  )
  return Layer.effect(
    HealthServer,
    Effect.gen(function*() {
      const health = yield* HealthServer
      return { url: health.url, metricsUrl: yield* MetricsUrl }
    })
  ).pipe(Layer.provide(Layer.merge(main, metrics)))
})).pipe(
  Layer.tap((context) => Effect.logInfo(`health server on ${Context.get(context, HealthServer).url}`))
)

class MetricsUrl extends Context.Service<MetricsUrl, string>()("k8s-cloudkms-plugin/health/MetricsUrl") {}
