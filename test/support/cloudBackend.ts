import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as Option from "effect/Option"
import type { PluginFlags } from "../../src/config/flags.ts"
import { PluginConfig } from "../../src/config/PluginConfig.ts"
import * as CloudKms from "../../src/kms/cloud/CloudKms.ts"
import { KeyManagement } from "../../src/kms/KeyManagement.ts"
import { cloudKeyUri, FakeCloud } from "./CloudTestPlugin.ts"
import { lineCollector } from "./cloudScripted.ts"
import { configFrom } from "./TestPlugin.ts"

// The CloudKms backend itself (KeyManagement, no gRPC server in front), with
// the real @google-cloud/kms client against the FakeCloud in context, and
// every line it logs.

export const cloudBackend = (flags: Partial<PluginFlags> = {}) =>
  Effect.gen(function*() {
    const fake = yield* FakeCloud
    const { lines, capture } = lineCollector()
    const config = configFrom({
      keyUri: Option.some(cloudKeyUri),
      kmsEndpoint: Option.some(fake.address),
      kmsInsecure: true,
      keyRefreshInterval: Option.some("1m"),
      kmsRetryInitialBackoff: Option.some("10ms"),
      kmsRetryMaxBackoff: Option.some("50ms"),
      // Long enough that no attempt times out on a loaded machine: call counts stay exact.
      kmsAttemptTimeout: Option.some("10s"),
      ...flags
    })
    const context = yield* Layer.build(
      CloudKms.layer.pipe(Layer.provide(Layer.succeed(PluginConfig, config)), Layer.provide(Logger.layer([capture])))
    )
    return { kms: Context.get(context, KeyManagement), lines, messages: () => lines.map((l) => l.message), config, fake }
  })
