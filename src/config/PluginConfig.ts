import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Result from "effect/Result"
import { ConfigError } from "./ConfigError.ts"
import type { PluginConfigShape } from "./ConfigShape.ts"
import { envVarOf, type PluginFlags } from "./flags.ts"
import { parseConfig } from "./parseConfig.ts"
import { socketDirectoryProblem } from "./SocketPath.ts"

export type { CloudEndpoint, KmsApi, KmsBackend, LogFormat, PluginConfigShape, RetryPolicy } from "./ConfigShape.ts"

/** The plugin's configuration, validated once at start. */
export class PluginConfig extends Context.Service<PluginConfig, PluginConfigShape>()(
  "k8s-cloudkms-plugin/config/PluginConfig"
) {
  /**
   * Flags (and the KMS_PLUGIN_* env vars) → validated config, including what
   * must exist on disk. Any mistake is a ConfigError naming the flag: exit
   * code 2, nothing started.
   */
  static readonly load = (
    flags: PluginFlags,
    env: Readonly<Record<string, string | undefined>> = process.env
  ): Effect.Effect<PluginConfigShape, ConfigError> =>
    Effect.suspend(() => {
      const parsed = parseConfig(flags, env)
      if (Result.isFailure(parsed)) return Effect.fail(parsed.failure)
      const config = parsed.success
      const socketProblem = socketDirectoryProblem(config.socketPath)
      if (socketProblem === undefined) return Effect.succeed(config)
      const flag = "path-to-unix-socket"
      const problem = { flag, message: socketProblem }
      // The default path is not the env var's fault: only a path set there is named by it.
      const fromEnv = Option.isNone(flags.pathToUnixSocket) && env[envVarOf(flag)] !== undefined
      return Effect.fail(new ConfigError({ problems: [fromEnv ? { ...problem, envVar: envVarOf(flag) } : problem] }))
    })

  static readonly layer = (flags: PluginFlags): Layer.Layer<PluginConfig, ConfigError> =>
    Layer.effect(PluginConfig, PluginConfig.load(flags))

  /** A config given as it is (tests, and selftest's derived flags go through `layer`). */
  static readonly layerTest = (config: PluginConfigShape): Layer.Layer<PluginConfig> => Layer.succeed(PluginConfig, config)
}
