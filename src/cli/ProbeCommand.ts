import * as Config from "effect/Config"
import * as Command from "effect/cli/Command"
import * as Flag from "effect/cli/Flag"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Runtime from "effect/Runtime"
import { makePluginClient } from "../client/PluginClient.ts"
import { ConfigError } from "../config/ConfigError.ts"
import { parseDurationMillis } from "../config/Duration.ts"
import { envVarOf } from "../config/flags.ts"
import { defaultSocketPath } from "../config/parseConfig.ts"
import { targetOf } from "../grpc/SocketBinding.ts"
import { checkV1, checkV2, formatReport } from "./probeChecks.ts"

/** The report already says what failed: exit 1 without another message. */
export class ChecksFailed extends Data.TaggedError("ChecksFailed") {
  override readonly [Runtime.errorReported] = false
}

export const probeFlags = {
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
}

export const probeCommand = Command.make("probe", probeFlags, (flags) =>
  Effect.gen(function* () {
    const timeoutMillis = parseDurationMillis(flags.timeout)
    if (timeoutMillis === undefined || timeoutMillis <= 0) {
      return yield* new ConfigError({
        problems: [{ flag: "timeout", message: `expected a duration such as 5s, got ${JSON.stringify(flags.timeout)}` }]
      })
    }
    const target = targetOf(flags.pathToUnixSocket)
    const client = yield* makePluginClient(target, { timeoutMillis })
    const results = [...(flags.kms === "v1" ? [] : yield* checkV2(client)), ...(flags.kms === "v2" ? [] : yield* checkV1(client))]
    process.stdout.write(`${formatReport(`probe ${flags.pathToUnixSocket}`, results)}\n`)
    if (results.some((r) => !r.ok)) return yield* new ChecksFailed()
  }).pipe(Effect.scoped)
).pipe(
  Command.withDescription("Check a running plugin through its socket: Status and Version, and an Encrypt/Decrypt round trip on each API.")
)
