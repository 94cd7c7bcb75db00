#!/usr/bin/env node
import * as NodeServices from "@effect/platform-node/NodeServices"
import * as CliConfig from "effect/cli/CliConfig"
import * as CliOutput from "effect/cli/CliOutput"
import * as Command from "effect/cli/Command"
import * as GlobalFlag from "effect/cli/GlobalFlag"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Stdio from "effect/Stdio"
import { cliPresenter, refuseUnknownFlags } from "./cli/CliPresenter.ts"
import { commandSpec } from "./cli/flagSpecs.ts"
import { goStyleArgs } from "./cli/goStyleArgs.ts"
import { probeCommand, probeFlags } from "./cli/ProbeCommand.ts"
import { selftestCommand } from "./cli/SelftestCommand.ts"
import * as StartLine from "./cli/StartLine.ts"
import { type PluginFlags, pluginFlags } from "./config/flags.ts"
import { PluginConfig } from "./config/PluginConfig.ts"
import { CallObserver } from "./grpc/CallObserver.ts"
import { GrpcServer } from "./grpc/GrpcServer.ts"
import { HealthChecks } from "./health/HealthChecks.ts"
import { HealthServer } from "./health/HealthServer.ts"
import * as CloudKms from "./kms/cloud/CloudKms.ts"
import * as FakeKms from "./kms/fake/FakeKms.ts"
import * as Logging from "./logging/Logging.ts"
import * as NodeWarnings from "./logging/NodeWarnings.ts"
import { runMain } from "./runtime/runMain.ts"
import { Shutdown, untilSignal } from "./runtime/Shutdown.ts"
import { pluginName, pluginVersion } from "./version.ts"

// The whole program, composed once, outer to inner:
//
//   Shutdown        SIGTERM, SIGINT or SIGHUP: drain and stop (exit 0; 1 if calls had to be cut)
//   command line    flags, Go's spellings too (and KMS_PLUGIN_* env vars); `probe` and `selftest` beside serving
//   PluginConfig    every flag validated once (a mistake: exit 2, nothing started)
//   Logging         JSON or text lines on stderr, at --log-level; Node's process warnings too
//   KeyManagement   Cloud KMS, or the in-process fake (--kms-backend)
//   GrpcServer      KMS v2 and v1beta1 on the unix socket
//   HealthServer    /livez /healthz /readyz /metrics, started once the socket serves

/** The backend --kms-backend asks for. */
const KeyManagementLayer = Layer.unwrap(PluginConfig.useSync((config) => (config.backend === "fake" ? FakeKms.layer : CloudKms.layer)))

/** The plugin from its parsed flags: each layer built on the ones below it. */
export const plugin = (flags: PluginFlags) =>
  HealthServer.layer.pipe(
    Layer.provide(HealthChecks.layer),
    Layer.provideMerge(GrpcServer.layer),
    Layer.provide(Layer.mergeAll(KeyManagementLayer, CallObserver.layer)),
    Layer.provide(Layer.merge(StartLine.layer(flags), NodeWarnings.layer)),
    Layer.provideMerge(Logging.layer),
    Layer.provideMerge(PluginConfig.layer(flags))
  )

const serve = (flags: PluginFlags) => Layer.launch(plugin(flags))

const command = Command.make(pluginName, pluginFlags, serve).pipe(
  Command.withDescription("Kubernetes KMS plugin (v2 and v1beta1) that wraps the apiserver's data keys with a Google Cloud KMS key."),
  Command.withSubcommands([probeCommand, selftestCommand(plugin)])
)

// A daemon has no use for the interactive --wizard or shell --completions, and
// --log-level is the plugin's own flag (any case, and from the env var too).
const CommandLine = Layer.mergeAll(
  NodeServices.layer,
  CliConfig.layer({ builtIns: [GlobalFlag.Help, GlobalFlag.Version] }),
  CliOutput.layerPresenter(cliPresenter)
)

/** What the Go-style rewrite knows of each command's flags. */
const commandLineSpec = commandSpec(pluginFlags, { probe: commandSpec(probeFlags), selftest: commandSpec(pluginFlags) })

/** The command line as Go's flag package takes it, rewritten for effect/cli, then run. */
const commandLine = Effect.gen(function* () {
  const given = goStyleArgs(yield* (yield* Stdio.Stdio).args, commandLineSpec)
  if (given.unknown.length > 0) {
    return yield* refuseUnknownFlags(given.unknown, given.subcommand === undefined ? [pluginName] : [pluginName, given.subcommand])
  }
  yield* Command.runWith(command, { version: pluginVersion })(given.args).pipe(
    Effect.provideService(StartLine.RepeatedFlags, given.repeated)
  )
})

export const main = (): void => runMain(commandLine.pipe(untilSignal, Effect.provide(Layer.mergeAll(CommandLine, Shutdown.layer))))

// Tests import `plugin`; only running this file (or bin/) starts the command line.
if (import.meta.main) main()
