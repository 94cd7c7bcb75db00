import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type { PluginFlags } from "../config/flags.ts"
import { PluginConfig, type PluginConfigShape } from "../config/PluginConfig.ts"
import { pluginRevision, pluginVersion } from "../version.ts"

// The first line `serve` logs: which build runs, and what an operator needs
// to see of the effective config, no secrets (there are none in the config).

export const effectiveConfig = (config: PluginConfigShape) => ({
  version: pluginVersion,
  revision: pluginRevision,
  keyUri: config.keyUri,
  decryptKeyUris: config.decryptKeyUris.join(","),
  keySuffix: config.keySuffix ?? "",
  kms: config.kmsApi,
  backend: config.backend,
  kmsEndpoint:
    config.cloudEndpoint._tag === "Google"
      ? "cloudkms.googleapis.com"
      : `${config.cloudEndpoint.host}:${config.cloudEndpoint.port}${config.cloudEndpoint.insecure ? " (insecure)" : ""}`,
  socket: config.socketPath,
  socketMode: `0${config.socketMode.toString(8)}`,
  healthz: `${config.healthzBindAddress}:${config.healthzPort}/${config.healthzPath}`,
  // Without --metrics-port this is the health listener's address.
  metrics: `${config.metricsBindAddress}:${config.metricsPort ?? config.healthzPort}/${config.metricsPath}`,
  kmsQpsLimit: config.kmsRateLimit === undefined ? "none" : `${config.kmsRateLimit.qps}/s, burst ${config.kmsRateLimit.burst}`,
  keyRefreshInterval: `${config.keyRefreshIntervalMillis}ms`,
  shutdownGracePeriod: `${config.shutdownGraceMillis}ms`,
  logLevel: config.logLevel
})

/**
 * Single-valued flags the command line gave more than once (their last value
 * was used), e.g. ["--kms"]; set by main from the Go-style rewrite.
 */
export const RepeatedFlags = Context.Reference<ReadonlyArray<string>>("k8s-cloudkms-plugin/cli/RepeatedFlags", {
  defaultValue: () => []
})

/**
 * Logs the start line before anything starts, and once each: flags given
 * more than once, and the Go plugin's glog flags being ignored.
 */
export const layer = (flags: PluginFlags): Layer.Layer<never, never, PluginConfig> =>
  Layer.effectDiscard(
    Effect.gen(function* () {
      yield* Effect.logInfo("starting").pipe(Effect.annotateLogs(effectiveConfig(yield* PluginConfig)))
      const repeated = yield* RepeatedFlags
      if (repeated.length > 0) {
        yield* Effect.logWarning(`flags given more than once, the last value is used: ${repeated.join(", ")}`)
      }
      if (flags.logtostderr || flags.alsologtostderr || flags.v._tag === "Some") {
        yield* Effect.logInfo("ignoring the Go plugin's glog flags (--logtostderr, --alsologtostderr, --v): logs always go to stderr")
      }
    })
  )
