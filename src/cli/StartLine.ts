import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type { PluginFlags } from "../config/flags.ts"
import { PluginConfig, type PluginConfigShape } from "../config/PluginConfig.ts"

// The first line `serve` logs: what an operator needs to see of the
// effective config, no secrets (there are none in the config).

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
  kmsQpsLimit: config.kmsRateLimit === undefined ? "none" : `${config.kmsRateLimit.qps}/s, burst ${config.kmsRateLimit.burst}`,
  keyRefreshInterval: `${config.keyRefreshIntervalMillis}ms`,
  shutdownGracePeriod: `${config.shutdownGraceMillis}ms`,
  logLevel: config.logLevel
})

/** Logs the start line (and that the Go plugin's glog flags are ignored, if given) before anything starts. */
export const layer = (flags: PluginFlags): Layer.Layer<never, never, PluginConfig> =>
  Layer.effectDiscard(Effect.gen(function*() {
    yield* Effect.logInfo("starting").pipe(Effect.annotateLogs(effectiveConfig(yield* PluginConfig)))
    if (flags.logtostderr || flags.alsologtostderr || flags.v._tag === "Some") {
      yield* Effect.logInfo("ignoring the Go plugin's glog flags (--logtostderr, --alsologtostderr, --v): logs always go to stderr")
    }
  }))
