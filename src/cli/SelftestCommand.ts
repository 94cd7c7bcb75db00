import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as Context from "effect/Context"
import * as Command from "effect/cli/Command"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import { makePluginClient } from "../client/PluginClient.ts"
import type { ConfigError } from "../config/ConfigError.ts"
import { envVarOf, type PluginFlags, pluginFlags } from "../config/flags.ts"
import { PluginConfig } from "../config/PluginConfig.ts"
import { GrpcServer } from "../grpc/GrpcServer.ts"
import { HealthServer } from "../health/HealthServer.ts"
import type { Shutdown } from "../runtime/Shutdown.ts"
import type { StartupError } from "../runtime/StartupError.ts"
import { checkHealthEndpoints } from "./httpChecks.ts"
import { ChecksFailed } from "./ProbeCommand.ts"
import { checkV1, checkV2, formatReport } from "./probeChecks.ts"

// The operator's first step on a new node: start the plugin exactly as
// configured (but, unless told otherwise, on a private socket and a free
// port, so a plugin already running there is not disturbed), then check it
// end to end: both APIs through the socket, a real KMS round trip, and the
// health endpoints.

/** The whole plugin from its flags, as main composes it. */
export type Plugin = (flags: PluginFlags) => Layer.Layer<GrpcServer | HealthServer | PluginConfig, ConfigError | StartupError, Shutdown>

const privateSocketDir = Effect.acquireRelease(
  Effect.sync(() => fs.mkdtempSync(path.join(os.tmpdir(), "kms-selftest-"))),
  (dir) => Effect.sync(() => fs.rmSync(dir, { recursive: true, force: true }))
)

/** A flag set on the command line or by its env var (which PluginConfig reads when the flag is absent). */
const isGiven = (flag: string, value: Option.Option<string>): boolean => Option.isSome(value) || process.env[envVarOf(flag)] !== undefined

const selftest = (plugin: Plugin) => (given: PluginFlags) =>
  Effect.gen(function* () {
    const flags: PluginFlags = {
      ...given,
      pathToUnixSocket: isGiven("path-to-unix-socket", given.pathToUnixSocket)
        ? given.pathToUnixSocket
        : Option.some(path.join(yield* privateSocketDir, "kms.sock")),
      healthzPort: isGiven("healthz-port", given.healthzPort) ? given.healthzPort : Option.some("0"),
      logLevel: isGiven("log-level", given.logLevel) ? given.logLevel : Option.some("warn")
    }
    const running = yield* Layer.build(plugin(flags))
    const config = Context.get(running, PluginConfig)
    const { target } = Context.get(running, GrpcServer)
    const { metricsUrl, url } = Context.get(running, HealthServer)
    const client = yield* makePluginClient(target, { timeoutMillis: config.healthzTimeoutMillis })
    const results = [
      ...(config.kmsApi === "v1" ? [] : yield* checkV2(client)),
      ...(config.kmsApi === "v2" ? [] : yield* checkV1(client)),
      ...(yield* checkHealthEndpoints(
        url,
        metricsUrl,
        { healthz: config.healthzPath, metrics: config.metricsPath },
        config.healthzTimeoutMillis
      ))
    ]
    const backend = config.backend === "fake" ? "fake backend" : `Cloud KMS key ${config.keyUri}`
    process.stdout.write(`${formatReport(`selftest: ${backend}, socket ${config.socketPath}, health ${url}`, results)}\n`)
    if (results.some((r) => !r.ok)) return yield* new ChecksFailed()
  }).pipe(Effect.scoped)

export const selftestCommand = (plugin: Plugin) =>
  Command.make("selftest", pluginFlags, selftest(plugin)).pipe(
    Command.withDescription(
      "Start the plugin with these flags (on a private socket and a free port unless given), check both APIs, a KMS round trip and the health endpoints, print a report, exit 0 or 1."
    )
  )
