import * as path from "node:path"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as Option from "effect/Option"
import { makePluginClient, type PluginClient } from "../../src/client/PluginClient.ts"
import type { PluginFlags } from "../../src/config/flags.ts"
import { PluginConfig, type PluginConfigShape } from "../../src/config/PluginConfig.ts"
import { GrpcServer } from "../../src/grpc/GrpcServer.ts"
import * as CloudKms from "../../src/kms/cloud/CloudKms.ts"
import { CallObserver } from "../../src/grpc/CallObserver.ts"
import { Shutdown } from "../../src/runtime/Shutdown.ts"
import { keepAuthOffline } from "../fakes/cloudKmsClient.ts"
import { type FakeCloudKms, fakeCloudKms, type FakeCloudKmsOptions } from "../fakes/FakeCloudKms.ts"
import { configFrom } from "./TestPlugin.ts"
import { tempDir } from "./tempDir.ts"

export const cloudKeyUri = "projects/test-project/locations/us-east1/keyRings/ring/cryptoKeys/key-a"
export const cloudOtherKeyUri = "projects/test-project/locations/us-east1/keyRings/ring/cryptoKeys/key-b"

/** A fake Cloud KMS holding key-a and key-b. */
export class FakeCloud extends Context.Service<FakeCloud, FakeCloudKms>()("test/FakeCloud") {
  /** With options of its own (e.g. no TestIamPermissions, a quota). */
  static readonly layerWith = (options: Omit<FakeCloudKmsOptions, "keys">) =>
    Layer.effect(
      FakeCloud,
      Effect.andThen(Effect.sync(keepAuthOffline), fakeCloudKms({ keys: [cloudKeyUri, cloudOtherKeyUri], ...options }))
    )
  static readonly layer = FakeCloud.layerWith({})
}

export interface CloudPluginShape {
  readonly config: PluginConfigShape
  readonly client: PluginClient
  readonly target: string
}

/** The plugin with the CloudKms backend on a temp socket, against the FakeCloud in context. */
export class CloudPlugin extends Context.Service<CloudPlugin, CloudPluginShape>()("test/CloudPlugin") {
  static readonly layer = (flags: Partial<PluginFlags> = {}, clientTimeoutMillis = 10_000) =>
    Layer.effect(
      CloudPlugin,
      Effect.gen(function*() {
        const fake = yield* FakeCloud
        const config = configFrom({
          keyUri: Option.some(cloudKeyUri),
          kmsEndpoint: Option.some(fake.address),
          kmsInsecure: true,
          pathToUnixSocket: Option.some(path.join(yield* tempDir, "kms.sock")),
          keyRefreshInterval: Option.some("200ms"),
          kmsRetryInitialBackoff: Option.some("10ms"),
          kmsRetryMaxBackoff: Option.some("50ms"),
          kmsAttemptTimeout: Option.some("300ms"),
          ...flags
        })
        const context = yield* Layer.build(
          GrpcServer.layer.pipe(
            Layer.provideMerge(CloudKms.layer),
            Layer.provide(CallObserver.layer),
            Layer.provide(Layer.succeed(PluginConfig, config)),
            Layer.provide(Shutdown.layerTest),
            Layer.provide(Logger.layer([]))
          )
        )
        const target = Context.get(context, GrpcServer).target
        const client = yield* makePluginClient(target, { timeoutMillis: clientTimeoutMillis })
        return { config, client, target }
      })
    )
}
