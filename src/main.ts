#!/usr/bin/env node
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import { runCli } from "./cli/runCli.ts"
import { PluginConfig } from "./config/PluginConfig.ts"
import { GrpcServerLayer } from "./grpc/GrpcServer.ts"
import { HealthChecksLayer } from "./health/HealthChecks.ts"
import { CloudKmsLayer } from "./kms/cloud/CloudKms.ts"
import { FakeKmsLayer } from "./kms/fake/FakeKms.ts"
import { CallMetricsLayer } from "./observability/CallMetrics.ts"

// The plugin, composed once: the KeyManagement backend chosen by
// --kms-backend, the gRPC server on the unix socket, the health and metrics
// server beside it, and the command line around them.

const KeyManagementLayer = Layer.unwrap(
  PluginConfig.useSync((config) => config.backend === "fake" ? FakeKmsLayer : CloudKmsLayer)
)

// The HTTP stack is loaded while the socket already serves: the apiserver's
// first Status does not wait for it.
const HealthServerLayer = Layer.unwrap(
  Effect.map(Effect.promise(() => import("./health/HealthServerLayer.ts")), (module) => module.HealthServerLayer)
)

export const PluginLayer = HealthServerLayer.pipe(
  Layer.provide(HealthChecksLayer),
  Layer.provideMerge(GrpcServerLayer),
  Layer.provide(Layer.merge(KeyManagementLayer, CallMetricsLayer))
)

export const main = (): void => runCli(PluginLayer)

// Tests import PluginLayer; only running this file (or bin/) starts the command line.
if (import.meta.main) main()
