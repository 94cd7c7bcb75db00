import * as Context from "effect/Context"

/** Where the health and metrics endpoints listen, once bound (see HealthServerLayer). */
export class HealthServer extends Context.Service<HealthServer, {
  /** e.g. http://127.0.0.1:8081 */
  readonly url: string
  readonly metricsUrl: string
}>()("k8s-cloudkms-plugin/health/HealthServer") {}
