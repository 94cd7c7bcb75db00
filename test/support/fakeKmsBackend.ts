import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as Option from "effect/Option"
import type { PluginFlags } from "../../src/config/flags.ts"
import { PluginConfig } from "../../src/config/PluginConfig.ts"
import { BackendRoutes, KeyManagement } from "../../src/kms/KeyManagement.ts"
import * as FakeKms from "../../src/kms/fake/FakeKms.ts"
import { FakeKmsControl } from "../../src/kms/fake/FakeKms.ts"
import { configFrom } from "./TestPlugin.ts"

// The fake backend on its own (no socket): its KeyManagement, its control, its
// HTTP routes and what it logged, for the fake-backend unit tests.

export const keyA = "projects/p/locations/global/keyRings/r/cryptoKeys/a"
export const keyB = "projects/p/locations/global/keyRings/r/cryptoKeys/b"

/** Builds FakeKms.layer with --key-uri keyA (unless overridden) and these flags, in the current scope. */
export const fakeKms = (flags: Partial<PluginFlags> = {}) =>
  Effect.gen(function*() {
    const lines: Array<string> = []
    const capture = Logger.make((options) => {
      const text = Array.isArray(options.message) ? options.message.join(" ") : String(options.message)
      lines.push(`${options.logLevel} ${text}`)
    })
    const config = configFrom({ kmsBackend: Option.some("fake"), keyUri: Option.some(keyA), ...flags })
    const context = yield* Layer.build(FakeKms.layer.pipe(
      Layer.provide(Layer.succeed(PluginConfig, config)),
      Layer.provide(Logger.layer([capture]))
    ))
    return {
      kms: Context.get(context, KeyManagement),
      control: Context.get(context, FakeKmsControl),
      routes: Context.get(context, BackendRoutes),
      lines,
      /** Runs `effect` (say, a route the health server would run) logging into `lines` too. */
      logged: <A, E>(effect: Effect.Effect<A, E>) => Effect.provide(effect, Logger.layer([capture]))
    }
  })

/** The message of the defect an effect died with ("no defect" if it did not die). */
export const defectMessage = <A, E>(effect: Effect.Effect<A, E>) =>
  Effect.map(Effect.exit(effect), (exit) => {
    if (exit._tag === "Success") return "no defect"
    const defect = exit.cause.reasons.find((reason) => reason._tag === "Die")
    return defect === undefined ? "no defect" : defect.defect instanceof Error ? defect.defect.message : String(defect.defect)
  })
