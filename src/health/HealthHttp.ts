import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as HttpRouter from "effect/http/HttpRouter"
import * as HttpServer from "effect/http/HttpServer"
import * as HttpServerRequest from "effect/http/HttpServerRequest"
import * as HttpServerResponse from "effect/http/HttpServerResponse"
import * as Layer from "effect/Layer"
import * as PrometheusMetrics from "effect/observability/PrometheusMetrics"
import { PluginConfig, type PluginConfigShape } from "../config/PluginConfig.ts"
import { BackendRoutes, KeyManagement } from "../kms/KeyManagement.ts"
import { makeRuntimeMetrics } from "../observability/RuntimeMetrics.ts"
import { StartupError } from "../runtime/StartupError.ts"
import { makeGuardedServer } from "./GuardedHttpServer.ts"
import { type CheckOutcome, HealthChecks } from "./HealthChecks.ts"
import { makeKeyStatusMetrics } from "./KeyStatusMetrics.ts"
import { listenFailure } from "./listenFailure.ts"

// The HTTP side (effect/http on node:http), loaded by HealthServer.layer only
// once the socket serves. What operators and kubelets look at, on 127.0.0.1
// by default:
//   /livez     the process and its socket answer (never fails for Cloud KMS)
//   /healthz   (--healthz-path) Status/Version through the socket; ?ping-kms=true adds a cached KMS round trip
//   /readyz    the KMS key is reachable
//   /metrics   (--metrics-path) Prometheus text, here or on --metrics-bind-address:--metrics-port
// plus whatever routes the backend contributes (the fake's POST /fake/rotate).

const answer = (outcome: CheckOutcome) =>
  outcome.ok ? HttpServerResponse.text("ok") : HttpServerResponse.text(outcome.reason.replaceAll("\n", " "), { status: 503 })

const prometheusContentType = "text/plain; version=0.0.4; charset=utf-8"

const metricsRoute = (path: string) =>
  HttpRouter.use(
    Effect.fn(function* (router) {
      const kms = yield* KeyManagement
      const runtimeMetrics = yield* makeRuntimeMetrics
      const refreshKeyGauges = yield* makeKeyStatusMetrics
      yield* router.add(
        "GET",
        `/${path}`,
        Effect.gen(function* () {
          yield* refreshKeyGauges(yield* kms.status)
          const text = (yield* PrometheusMetrics.format()) + (yield* runtimeMetrics)
          return HttpServerResponse.text(text, { contentType: prometheusContentType })
        })
      )
    })
  )

const healthRoutes = (config: PluginConfigShape) =>
  HttpRouter.use(
    Effect.fn(function* (router) {
      const checks = yield* HealthChecks
      yield* router.add("GET", "/livez", Effect.map(checks.livez, answer))
      yield* router.add("GET", "/readyz", Effect.map(checks.readyz, answer))
      yield* router.add(
        "GET",
        `/${config.healthzPath}`,
        Effect.gen(function* () {
          const params = yield* HttpServerRequest.ParsedSearchParams
          return answer(yield* checks.healthz(params["ping-kms"] === "true"))
        })
      )
      for (const route of yield* BackendRoutes) {
        yield* router.add(
          route.method,
          route.path,
          Effect.map(route.handle, ({ body, status }) => HttpServerResponse.text(body, { status }))
        )
      }
    })
  )

/**
 * Listens on host:port (the flag named in the error if it cannot) and serves
 * `routes`, with a connection cap and short request timeouts (GuardedHttpServer);
 * its URL, e.g. http://127.0.0.1:8081.
 */
const serveOn = <R>(flag: "healthz-port" | "metrics-port", host: string, port: number, routes: Layer.Layer<never, never, R>) =>
  Effect.gen(function* () {
    const served = yield* Layer.build(
      HttpRouter.serve(routes, { disableLogger: true, disableListenLog: true }).pipe(
        Layer.provideMerge(NodeHttpServer.layer(() => makeGuardedServer(), { host, port }))
      )
    ).pipe(
      Effect.catchTag("ServeError", (error) => Effect.fail(new StartupError({ message: listenFailure(flag, host, port, error.cause) })))
    )
    return HttpServer.formatAddress(Context.get(served, HttpServer.HttpServer).address)
  })

/** Starts the health server (and the metrics one on --metrics-port); stopped with the scope. */
export const start = Effect.gen(function* () {
  const config = yield* PluginConfig
  const host = config.healthzBindAddress
  if (config.metricsPort === undefined) {
    const url = yield* serveOn(
      "healthz-port",
      host,
      config.healthzPort,
      Layer.merge(healthRoutes(config), metricsRoute(config.metricsPath))
    )
    return { url, metricsUrl: url }
  }
  const url = yield* serveOn("healthz-port", host, config.healthzPort, healthRoutes(config))
  const metricsUrl = yield* serveOn("metrics-port", config.metricsBindAddress, config.metricsPort, metricsRoute(config.metricsPath))
  return { url, metricsUrl }
})
