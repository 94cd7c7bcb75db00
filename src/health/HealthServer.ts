import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"

/** Where the health and metrics endpoints listen, once bound. */
export class HealthServer extends Context.Service<
  HealthServer,
  {
    /** e.g. http://127.0.0.1:8081 */
    readonly url: string
    readonly metricsUrl: string
  }
>()("k8s-cloudkms-plugin/health/HealthServer") {
  /**
   * /livez /healthz /readyz /metrics (see HealthHttp). The HTTP stack is
   * loaded when this layer is built, after the socket serves: the
   * apiserver's first Status does not wait for it.
   */
  static readonly layer = Layer.effect(
    HealthServer,
    Effect.gen(function* () {
      const http = yield* Effect.promise(() => import("./HealthHttp.ts"))
      const { metricsUrl, url } = yield* http.start
      yield* Effect.logInfo(`health server on ${url}`)
      if (metricsUrl !== url) yield* Effect.logInfo(`metrics on ${metricsUrl}`)
      return HealthServer.of({ url, metricsUrl })
    })
  )
}
