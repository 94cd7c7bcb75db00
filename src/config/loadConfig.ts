import * as Effect from "effect/Effect"
import * as Result from "effect/Result"
import { socketDirectoryProblem } from "../grpc/UnixSocket.ts"
import { ConfigError } from "./ConfigError.ts"
import type { PluginFlags } from "./flags.ts"
import { parseConfig } from "./parseConfig.ts"
import type { PluginConfigShape } from "./PluginConfig.ts"

/** Flags (and env) → validated config, including what must exist on disk. */
export const loadConfig = (flags: PluginFlags): Effect.Effect<PluginConfigShape, ConfigError> =>
  Effect.suspend(() => {
    const parsed = parseConfig(flags, process.env)
    if (Result.isFailure(parsed)) return Effect.fail(parsed.failure)
    const config = parsed.success
    const socketProblem = socketDirectoryProblem(config.socketPath)
    return socketProblem === undefined
      ? Effect.succeed(config)
      : Effect.fail(new ConfigError({ problems: [{ flag: "path-to-unix-socket", message: socketProblem }] }))
  })
