import * as NodeServices from "@effect/platform-node/NodeServices"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as CliConfig from "effect/cli/CliConfig"
import * as CliOutput from "effect/cli/CliOutput"
import * as Command from "effect/cli/Command"
import * as GlobalFlag from "effect/cli/GlobalFlag"
import { runMain } from "../runtime/runMain.ts"
import { pluginVersion } from "../version.ts"
import { cliPresenter } from "./CliPresenter.ts"
import { type PluginLayer, rootCommand } from "./commands.ts"

// A daemon has no use for the interactive --wizard or shell --completions, and
// --log-level is the plugin's own flag (any case, and from the env var too).
const cliLayer = Layer.mergeAll(
  NodeServices.layer,
  CliConfig.layer({ builtIns: [GlobalFlag.Help, GlobalFlag.Version] }),
  CliOutput.layerPresenter(cliPresenter)
)

/** Parses argv and runs the chosen command as the process's main program. */
export const runCli = (plugin: PluginLayer): void =>
  runMain(Command.run(rootCommand(plugin), { version: pluginVersion }).pipe(Effect.provide(cliLayer)))
