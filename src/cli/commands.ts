import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Command from "effect/cli/Command"
import { pluginFlags, type PluginFlags } from "../config/flags.ts"
import { pluginName } from "../version.ts"
import { effectiveConfig, type PluginLayer, withConfig } from "./pluginRun.ts"
import { probeCommand } from "./ProbeCommand.ts"
import { selftestCommand } from "./SelftestCommand.ts"

export type { PluginLayer } from "./pluginRun.ts"

const serve = (plugin: PluginLayer) => (flags: PluginFlags) =>
  withConfig(flags, (config) =>
    Effect.gen(function*() {
      yield* Effect.logInfo("starting").pipe(Effect.annotateLogs(effectiveConfig(config)))
      if (flags.logtostderr || flags.alsologtostderr || flags.v._tag === "Some") {
        yield* Effect.logInfo("ignoring the Go plugin's glog flags (--logtostderr, --alsologtostderr, --v): logs always go to stderr")
      }
      return yield* Layer.launch(plugin)
    }))

export const rootCommand = (plugin: PluginLayer) =>
  Command.make(pluginName, pluginFlags, serve(plugin)).pipe(
    Command.withDescription(
      "Kubernetes KMS plugin (v2 and v1beta1) that wraps the apiserver's data keys with a Google Cloud KMS key."
    ),
    Command.withSubcommands([probeCommand, selftestCommand(plugin)])
  )
