import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Result from "effect/Result"
import { ConfigError } from "./ConfigError.ts"
import type { PluginConfigShape } from "./ConfigShape.ts"
import { diskProblems } from "./DiskChecks.ts"
import { envVarOf, type PluginFlags } from "./flags.ts"
import { parseConfig } from "./parseConfig.ts"

export type { CloudEndpoint, KmsApi, KmsBackend, KmsRateLimit, LogFormat, PluginConfigShape, RetryPolicy } from "./ConfigShape.ts"

/** The plugin's configuration, validated once at start. */
export class PluginConfig extends Context.Service<PluginConfig, PluginConfigShape>()("k8s-cloudkms-plugin/config/PluginConfig") {
  /**
   * Flags (and the KMS_PLUGIN_* env vars) → validated config, including what
   * must exist on disk (the socket's directory, --fake-key-file, --gce-config). Any mistake is a ConfigError naming the flag: exit
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
      // A path the env var gave is named by it; the default is nobody's fault.
      const fromEnv = (flag: string, onCommandLine: Option.Option<string>) =>
        Option.isNone(onCommandLine) && env[envVarOf(flag)] !== undefined
      const commandLine: Readonly<Record<string, Option.Option<string>>> = {
        "path-to-unix-socket": flags.pathToUnixSocket,
        "fake-key-file": flags.fakeKeyFile,
        "gce-config": flags.gceConfig
      }
      const problems = diskProblems(config).map((problem) =>
        fromEnv(problem.flag, commandLine[problem.flag] ?? Option.none()) ? { ...problem, envVar: envVarOf(problem.flag) } : problem
      )
      return problems.length === 0 ? Effect.succeed(config) : Effect.fail(new ConfigError({ problems }))
    })

  static readonly layer = (flags: PluginFlags): Layer.Layer<PluginConfig, ConfigError> =>
    Layer.effect(PluginConfig, PluginConfig.load(flags))

  /** A config given as it is (tests, and selftest's derived flags go through `layer`). */
  static readonly layerTest = (config: PluginConfigShape): Layer.Layer<PluginConfig> => Layer.succeed(PluginConfig, config)
}
