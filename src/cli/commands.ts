import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Runtime from "effect/Runtime"
import * as Layer from "effect/Layer"
import * as Command from "effect/cli/Command"
import * as Flag from "effect/cli/Flag"
import * as Config from "effect/Config"
import { ConfigError } from "../config/ConfigError.ts"
import { envVarOf, pluginFlags, type PluginFlags } from "../config/flags.ts"
import { loadConfig } from "../config/loadConfig.ts"
import { defaultSocketPath } from "../config/parseConfig.ts"
import { PluginConfig, type PluginConfigShape } from "../config/PluginConfig.ts"
import { parseDurationMillis } from "../config/Duration.ts"
import { type GrpcServer, targetOf } from "../grpc/GrpcServer.ts"
import type { HealthServer } from "../health/HealthServer.ts"
import type { ServeError } from "effect/http/HttpServerError"
import { loggingLayer } from "../logging/Logging.ts"
import type { Shutdown } from "../runtime/Shutdown.ts"
import type { StartupError } from "../runtime/StartupError.ts"
import { pluginName } from "../version.ts"
import { makePluginClient } from "../client/PluginClient.ts"
import { checkV1, checkV2, formatReport } from "../client/probeChecks.ts"

/** Everything the plugin runs once its config is known (composed in main). */
export type PluginLayer = Layer.Layer<GrpcServer | HealthServer, ConfigError | StartupError | ServeError, PluginConfig | Shutdown>

/** Validated config, with logging set up as it asks, then `use`. */
const withConfig = <A, E, R>(flags: PluginFlags, use: (config: PluginConfigShape) => Effect.Effect<A, E, R>) =>
  Effect.gen(function*() {
    const config = yield* loadConfig(flags)
    return yield* use(config).pipe(
      Effect.provideService(PluginConfig, config),
      Effect.provide(loggingLayer(config.logFormat, config.logLevel))
    )
  })

const effectiveConfig = (config: PluginConfigShape) => ({
  keyUri: config.keyUri,
  decryptKeyUris: config.decryptKeyUris.join(","),
  keySuffix: config.keySuffix ?? "",
  kms: config.kmsApi,
  backend: config.backend,
  kmsEndpoint: config.cloudEndpoint._tag === "Google" ? "cloudkms.googleapis.com" : `${config.cloudEndpoint.host}:${config.cloudEndpoint.port}`,
  socket: config.socketPath,
  socketMode: `0${config.socketMode.toString(8)}`,
  healthz: `${config.healthzBindAddress}:${config.healthzPort}/${config.healthzPath}`,
  metrics: `${config.healthzBindAddress}:${config.metricsPort ?? config.healthzPort}/${config.metricsPath}`,
  keyRefreshIntervalMs: config.keyRefreshIntervalMillis,
  shutdownGraceMs: config.shutdownGraceMillis
})

const serve = (plugin: PluginLayer) => (flags: PluginFlags) =>
  withConfig(flags, (config) =>
    Effect.gen(function*() {
      yield* Effect.logInfo("starting").pipe(Effect.annotateLogs(effectiveConfig(config)))
      return yield* Layer.launch(plugin)
    }))

const probeCommand = Command.make(
  "probe",
  {
    pathToUnixSocket: Flag.String("path-to-unix-socket").pipe(
      Flag.withMetavar("path"),
      Flag.withDescription(`Socket of the plugin to check. Default ${defaultSocketPath}. [env ${envVarOf("path-to-unix-socket")}]`),
      Flag.withFallbackConfig(Config.String(envVarOf("path-to-unix-socket"))),
      Flag.withDefault(defaultSocketPath)
    ),
    kms: Flag.Literals("kms", ["v1", "v2", "both"]).pipe(
      Flag.withDescription("Which API(s) to check. Default both."),
      Flag.withDefault("both")
    ),
    timeout: Flag.String("timeout").pipe(
      Flag.withMetavar("duration"),
      Flag.withDescription("Deadline of each call. Default 5s."),
      Flag.withDefault("5s")
    )
  },
  (flags) =>
    Effect.gen(function*() {
      const timeoutMillis = parseDurationMillis(flags.timeout)
      if (timeoutMillis === undefined || timeoutMillis <= 0) {
        return yield* new ConfigError({ problems: [{ flag: "timeout", message: `expected a duration such as 5s, got ${JSON.stringify(flags.timeout)}` }] })
      }
      const target = targetOf(flags.pathToUnixSocket)
      const client = yield* makePluginClient(target, { timeoutMillis })
      const results = [
        ...(flags.kms === "v1" ? [] : yield* checkV2(client)),
        ...(flags.kms === "v2" ? [] : yield* checkV1(client))
      ]
      process.stdout.write(`${formatReport(`probe ${target}`, results)}\n`)
      if (results.some((r) => !r.ok)) return yield* Effect.fail(new ProbeFailed())
    }).pipe(Effect.scoped)
).pipe(Command.withDescription("Check a running plugin through its socket: Status and Version, and an Encrypt/Decrypt round trip on each API."))

/** The report already says what failed: exit 1 without another message. */
class ProbeFailed extends Data.TaggedError("ProbeFailed") {
  override readonly [Runtime.errorReported] = false
}

export const rootCommand = (plugin: PluginLayer) =>
  Command.make(pluginName, pluginFlags, serve(plugin)).pipe(
    Command.withDescription(
      "Kubernetes KMS plugin (v2 and v1beta1) that wraps the apiserver's data keys with a Google Cloud KMS key."
    ),
    Command.withSubcommands([probeCommand])
  )
