import * as Effect from "effect/Effect"
import type { PluginFlags } from "../../src/config/flags.ts"
import { FakeCloud } from "../fakes/FakeCloud.ts"
import { inProcessBackend } from "./InProcessPlugin.ts"

// The CloudKms backend itself (KeyManagement, no gRPC server in front), with
// the real @google-cloud/kms client against the FakeCloud in context, and
// every line it logs: inProcessBackend with the cloud backend.

export const cloudBackend = (flags: Partial<PluginFlags> = {}) =>
  Effect.gen(function* () {
    const fake = yield* FakeCloud
    const { config, kms, logs } = yield* inProcessBackend({ backend: "cloud", flags })
    return { kms, lines: logs.lines, messages: () => [...logs.messages], config, fake }
  })
