#!/usr/bin/env node
import * as NodeServices from "@effect/platform-node/NodeServices"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as CliConfig from "effect/cli/CliConfig"
import * as CliOutput from "effect/cli/CliOutput"
import * as Command from "effect/cli/Command"
import * as GlobalFlag from "effect/cli/GlobalFlag"
import { cliPresenter } from "./cli/CliPresenter.ts"
import { probeCommand } from "./cli/ProbeCommand.ts"
import { selftestCommand } from "./cli/SelftestCommand.ts"
import * as StartLine from "./cli/StartLine.ts"
import { pluginFlags, type PluginFlags } from "./config/flags.ts"
import { PluginConfig } from "./config/PluginConfig.ts"
import { CallObserver } from "./grpc/CallObserver.ts"
import { GrpcServer } from "./grpc/GrpcServer.ts"
import { HealthChecks } from "./health/HealthChecks.ts"
import { HealthServer } from "./health/HealthServer.ts"
import * as CloudKms from "./kms/cloud/CloudKms.ts"
import * as FakeKms from "./kms/fake/FakeKms.ts"
import * as Logging from "./logging/Logging.ts"
import { runMain } from "./runtime/runMain.ts"
import { Shutdown, untilSignal } from "./runtime/Shutdown.ts"
import { pluginName, pluginVersion } from "./version.ts"

// The whole program, composed once, outer to inner:
//
//   Shutdown        SIGTERM, SIGINT or SIGHUP: drain and stop (exit 0; 1 if calls had to be cut)
//   command line    flags (and KMS_PLUGIN_* env vars); `probe` and `selftest` beside serving
//   PluginConfig    every flag validated once (a mistake: exit 2, nothing started)
//   Logging         JSON or text lines on stderr, at --log-level
//   KeyManagement   Cloud KMS, or the in-process fake (--kms-backend)
//   GrpcServer      KMS v2 and v1beta1 on the unix socket
//   HealthServer    /livez /healthz /readyz /metrics, started once the socket serves

/** The backend --kms-backend asks for. */
const KeyManagementLayer = Layer.unwrap(
  PluginConfig.useSync((config) => config.backend === "fake" ? FakeKms.layer : CloudKms.layer)
)

/** The plugin from its parsed flags: each layer built on the ones below it. */
export const plugin = (flags: PluginFlags) =>
  HealthServer.layer.pipe(
    Layer.provide(HealthChecks.layer),
    Layer.provideMerge(GrpcServer.layer),
    Layer.provide(Layer.mergeAll(KeyManagementLayer, CallObserver.layer)),
    Layer.provide(StartLine.layer(flags)),
    Layer.provideMerge(Logging.layer),
    Layer.provideMerge(PluginConfig.layer(flags))
  )

const serve = (flags: PluginFlags) => Layer.launch(plugin(flags))

const command = Command.make(pluginName, pluginFlags, serve).pipe(
  Command.withDescription(
    "Kubernetes KMS plugin (v2 and v1beta1) that wraps the apiserver's data keys with a Google Cloud KMS key."
  ),
  Command.withSubcommands([probeCommand, selftestCommand(plugin)])
)

// A daemon has no use for the interactive --wizard or shell --completions, and
// --log-level is the plugin's own flag (any case, and from the env var too).
const CommandLine = Layer.mergeAll(
  NodeServices.layer,
  CliConfig.layer({ builtIns: [GlobalFlag.Help, GlobalFlag.Version] }),
  CliOutput.layerPresenter(cliPresenter)
)

export const main = (): void =>
  runMain(Command.run(command, { version: pluginVersion }).pipe(untilSignal, Effect.provide(Layer.mergeAll(CommandLine, Shutdown.layer))))

// Tests import `plugin`; only running this file (or bin/) starts the command line.
if (import.meta.main) main()
