import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type { PluginFlags } from "../../src/config/flags.ts"
import { inProcessBackend } from "./InProcessPlugin.ts"

// The fake backend on its own (no socket): its KeyManagement, its control, its
// HTTP routes and what it logged ("Level message"), for the fake-backend unit
// tests: inProcessBackend with the fake backend, on keyA.

export const keyA = "projects/p/locations/global/keyRings/r/cryptoKeys/a"
export const keyB = "projects/p/locations/global/keyRings/r/cryptoKeys/b"

/** Builds FakeKms.layer with --key-uri keyA (unless overridden) and these flags, in the current scope. */
export const fakeKms = (flags: Partial<PluginFlags> = {}) =>
  Effect.map(inProcessBackend({ flags: { keyUri: Option.some(keyA), ...flags } }), ({ control, kms, logs, routes }) => ({
    kms,
    control,
    routes,
    lines: logs.leveled,
    /** Runs `effect` (say, a route the health server would run) logging into `lines` too. */
    logged: <A, E>(effect: Effect.Effect<A, E>) => Effect.provide(effect, logs.layer)
  }))

/** The message of the defect an effect died with ("no defect" if it did not die). */
export const defectMessage = <A, E>(effect: Effect.Effect<A, E>) =>
  Effect.map(Effect.exit(effect), (exit) => {
    if (exit._tag === "Success") return "no defect"
    const defect = exit.cause.reasons.find((reason) => reason._tag === "Die")
    return defect === undefined ? "no defect" : defect.defect instanceof Error ? defect.defect.message : String(defect.defect)
  })
