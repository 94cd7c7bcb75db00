import { randomBytes } from "node:crypto"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type { CallFailed, PluginClient } from "../client/PluginClient.ts"
import { roundTrip } from "../client/roundTrip.ts"

// The checks an operator runs against a plugin's socket (`probe`, and the
// first part of `selftest`): both APIs answer, and a random data key survives
// a round trip on each.

export interface CheckResult {
  readonly name: string
  readonly ok: boolean
  readonly detail: string
}

const check = (name: string, run: Effect.Effect<string, CallFailed | string>): Effect.Effect<CheckResult> =>
  run.pipe(
    Effect.timed,
    Effect.map(([duration, detail]) => ({ name, ok: true, detail: `${detail}, ${Duration.toMillis(duration).toFixed(1)} ms` })),
    Effect.catch((error) => Effect.succeed({ name, ok: false, detail: typeof error === "string" ? error : error.message }))
  )

export const checkV2 = (client: PluginClient): Effect.Effect<ReadonlyArray<CheckResult>> =>
  Effect.gen(function* () {
    let statusKeyId = ""
    const status = yield* check(
      "v2 Status",
      Effect.gen(function* () {
        const status = yield* client.v2Status
        if (status.version !== "v2") return yield* Effect.fail(`version is ${JSON.stringify(status.version)}, expected "v2"`)
        if (status.healthz !== "ok") return yield* Effect.fail(`healthz is ${JSON.stringify(status.healthz)}`)
        if (status.keyId === "") return yield* Effect.fail("key_id is empty")
        statusKeyId = status.keyId
        return `healthz ok, key_id ${status.keyId}`
      })
    )
    const trip = yield* check(
      "v2 Encrypt/Decrypt",
      Effect.map(
        roundTrip(client, "v2", `probe-${randomBytes(8).toString("hex")}`, ({ ciphertext, keyId }) => {
          if (ciphertext.length === 0 || ciphertext.length > 1024) {
            return `ciphertext of a 32-byte seed is ${ciphertext.length} bytes; the apiserver takes 1-1024`
          }
          if (statusKeyId !== "" && keyId !== statusKeyId) return `Encrypt key_id ${keyId} differs from Status key_id ${statusKeyId}`
          return undefined
        }),
        (wrapped) => `32-byte seed, ciphertext ${wrapped.ciphertext.length} bytes`
      )
    )
    return [status, trip]
  })

export const checkV1 = (client: PluginClient): Effect.Effect<ReadonlyArray<CheckResult>> =>
  Effect.gen(function* () {
    const version = yield* check(
      "v1beta1 Version",
      Effect.gen(function* () {
        const version = yield* client.v1Version
        if (version.version !== "v1beta1") return yield* Effect.fail(`version is ${JSON.stringify(version.version)}, expected "v1beta1"`)
        return `${version.runtimeName} ${version.runtimeVersion}`
      })
    )
    const trip = yield* check(
      "v1beta1 Encrypt/Decrypt",
      Effect.map(roundTrip(client, "v1beta1", ""), (wrapped) => `32-byte key, ciphertext ${wrapped.ciphertext.length} bytes`)
    )
    return [version, trip]
  })

export const formatReport = (title: string, results: ReadonlyArray<CheckResult>): string => {
  const width = Math.max(...results.map((r) => r.name.length))
  const lines = results.map((r) => `  ${r.ok ? "ok  " : "FAIL"}  ${r.name.padEnd(width)}  ${r.detail}`)
  const failed = results.filter((r) => !r.ok).length
  return [title, ...lines, `${results.length - failed} passed, ${failed} failed`].join("\n")
}
