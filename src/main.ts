#!/usr/bin/env node
import * as Layer from "effect/Layer"
import { runCli } from "./cli/runCli.ts"
import { PluginConfig } from "./config/PluginConfig.ts"
import { CallLogLayer } from "./grpc/CallObserver.ts"
import { GrpcServerLayer } from "./grpc/GrpcServer.ts"
import { FakeKmsLayer } from "./kms/fake/FakeKms.ts"

// The plugin, composed once: the KeyManagement backend chosen by
// --kms-backend, the gRPC server on the unix socket, and the CLI around them.

const KeyManagementLayer = Layer.unwrap(
  PluginConfig.useSync((config) => config.backend === "fake" ? FakeKmsLayer : FakeKmsLayer)
)

const PluginLayer = GrpcServerLayer.pipe(
  Layer.provide(Layer.mergeAll(KeyManagementLayer, CallLogLayer))
)

runCli(PluginLayer)
