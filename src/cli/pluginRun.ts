import * as Effect from "effect/Effect"
import type * as Layer from "effect/Layer"
import type { ServeError } from "effect/http/HttpServerError"
import type { ConfigError } from "../config/ConfigError.ts"
import type { PluginFlags } from "../config/flags.ts"
import { loadConfig } from "../config/loadConfig.ts"
import { PluginConfig, type PluginConfigShape } from "../config/PluginConfig.ts"
import type { GrpcServer } from "../grpc/GrpcServer.ts"
import type { HealthServer } from "../health/HealthServer.ts"
import { loggingLayer } from "../logging/Logging.ts"
import type { Shutdown } from "../runtime/Shutdown.ts"
import type { StartupError } from "../runtime/StartupError.ts"

/** Everything the plugin runs once its config is known (composed in main). */
export type PluginLayer = Layer.Layer<GrpcServer | HealthServer, ConfigError | StartupError | ServeError, PluginConfig | Shutdown>

/** Validated config, with logging set up as it asks, then `use`. */
export const withConfig = <A, E, R>(flags: PluginFlags, use: (config: PluginConfigShape) => Effect.Effect<A, E, R>) =>
  Effect.gen(function*() {
    const config = yield* loadConfig(flags)
    return yield* use(config).pipe(
      Effect.provideService(PluginConfig, config),
      Effect.provide(loggingLayer(config.logFormat, config.logLevel))
    )
  })

/** The start line's fields: what an operator needs to see, no secrets (there are none in the config). */
export const effectiveConfig = (config: PluginConfigShape) => ({
  keyUri: config.keyUri,
  decryptKeyUris: config.decryptKeyUris.join(","),
  keySuffix: config.keySuffix ?? "",
  kms: config.kmsApi,
  backend: config.backend,
  kmsEndpoint: config.cloudEndpoint._tag === "Google"
    ? "cloudkms.googleapis.com"
    : `${config.cloudEndpoint.host}:${config.cloudEndpoint.port}${config.cloudEndpoint.insecure ? " (insecure)" : ""}`,
  socket: config.socketPath,
  socketMode: `0${config.socketMode.toString(8)}`,
  healthz: `${config.healthzBindAddress}:${config.healthzPort}/${config.healthzPath}`,
  metrics: `${config.healthzBindAddress}:${config.metricsPort ?? config.healthzPort}/${config.metricsPath}`,
  keyRefreshInterval: `${config.keyRefreshIntervalMillis}ms`,
  shutdownGracePeriod: `${config.shutdownGraceMillis}ms`,
  logLevel: config.logLevel
})
