import * as path from "node:path"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as Option from "effect/Option"
import * as Result from "effect/Result"
import { makePluginClient, type PluginClient } from "../../src/client/PluginClient.ts"
import type { PluginFlags } from "../../src/config/flags.ts"
import { parseConfig } from "../../src/config/parseConfig.ts"
import { PluginConfig, type PluginConfigShape } from "../../src/config/PluginConfig.ts"
import { CallObserver } from "../../src/grpc/CallObserver.ts"
import { GrpcServer } from "../../src/grpc/GrpcServer.ts"
import * as FakeKms from "../../src/kms/fake/FakeKms.ts"
import { FakeKmsControl, type FakeKmsControlShape } from "../../src/kms/fake/FakeKms.ts"
import { Shutdown } from "../../src/runtime/Shutdown.ts"
import { tempDir } from "./tempDir.ts"

/** Flags as the CLI would hand them over, all absent. */
export const noFlags: PluginFlags = {
  keyUri: Option.none(),
  decryptKeyUri: [],
  keySuffix: Option.none(),
  decryptKeySuffix: [],
  kms: Option.none(),
  kmsBackend: Option.none(),
  kmsEndpoint: Option.none(),
  kmsInsecure: false,
  kmsMaxAttempts: Option.none(),
  kmsAttemptTimeout: Option.none(),
  kmsRetryInitialBackoff: Option.none(),
  kmsRetryMaxBackoff: Option.none(),
  kmsCallTimeout: Option.none(),
  kmsQpsLimit: Option.none(),
  kmsBurst: Option.none(),
  keyRefreshInterval: Option.none(),
  pathToUnixSocket: Option.none(),
  socketMode: Option.none(),
  shutdownGracePeriod: Option.none(),
  healthzBindAddress: Option.none(),
  healthzPort: Option.none(),
  healthzPath: Option.none(),
  healthzTimeout: Option.none(),
  healthzKmsCache: Option.none(),
  metricsPort: Option.none(),
  metricsPath: Option.none(),
  gceConfig: Option.none(),
  integrationTest: false,
  fakeKmsPort: Option.none(),
  fakeKeyFile: Option.none(),
  fakeLatency: Option.none(),
  logFormat: Option.none(),
  logLevel: Option.none(),
  logtostderr: false,
  alsologtostderr: false,
  v: Option.none()
}

/** The config the CLI would build from these flags (which must be valid). */
export const configFrom = (flags: Partial<PluginFlags>): PluginConfigShape => {
  const parsed = parseConfig({ ...noFlags, ...flags })
  if (Result.isFailure(parsed)) throw new Error(`test config invalid: ${parsed.failure.message}`)
  return parsed.success
}

export const fakeKeyUri = "projects/test-project/locations/global/keyRings/test-ring/cryptoKeys/test-key"
export const oldKeyUri = "projects/test-project/locations/global/keyRings/test-ring/cryptoKeys/old-key"

export interface TestPluginShape {
  readonly config: PluginConfigShape
  readonly client: PluginClient
  readonly control: FakeKmsControlShape
  readonly target: string
}

/** A running plugin with the fake backend on a temp socket, and a client of it. */
export class TestPlugin extends Context.Service<TestPlugin, TestPluginShape>()("test/TestPlugin") {
  static readonly layer = (flags: Partial<PluginFlags> = {}) =>
    Layer.effect(
      TestPlugin,
      Effect.gen(function*() {
        const dir = yield* tempDir
        const config = configFrom({
          kmsBackend: Option.some("fake"),
          keyUri: Option.some(fakeKeyUri),
          pathToUnixSocket: Option.some(path.join(dir, "kms.sock")),
          ...flags
        })
        const context = yield* Layer.build(
          GrpcServer.layer.pipe(
            Layer.provideMerge(FakeKms.layer),
            Layer.provide(CallObserver.layer),
            Layer.provide(Layer.succeed(PluginConfig, config)),
            Layer.provide(Shutdown.layerTest),
            Layer.provide(Logger.layer([]))
          )
        )
        const target = Context.get(context, GrpcServer).target
        const client = yield* makePluginClient(target, { timeoutMillis: 10_000 })
        return { config, client, control: Context.get(context, FakeKmsControl), target }
      })
    )
}
