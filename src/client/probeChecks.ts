import { randomBytes, timingSafeEqual } from "node:crypto"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type { CallFailed, PluginClient } from "./PluginClient.ts"

// The checks an operator runs against a plugin's socket (`probe`, and the
// first part of `selftest`): both APIs answer, and a random data key survives
// a round trip on each.

export interface CheckResult {
  readonly name: string
  readonly ok: boolean
  readonly detail: string
}

const sameBytes = (a: Uint8Array, b: Uint8Array): boolean => a.length === b.length && timingSafeEqual(a, b)

const check = (
  name: string,
  run: Effect.Effect<string, CallFailed | string>
): Effect.Effect<CheckResult> =>
  run.pipe(
    Effect.timed,
    Effect.map(([duration, detail]) => ({ name, ok: true, detail: `${detail}, ${Duration.toMillis(duration).toFixed(1)} ms` })),
    Effect.catch((error) => Effect.succeed({ name, ok: false, detail: typeof error === "string" ? error : error.message }))
  )

export const checkV2 = (client: PluginClient): Effect.Effect<ReadonlyArray<CheckResult>> =>
  Effect.gen(function*() {
    let statusKeyId = ""
    const status = yield* check(
      "v2 Status",
      Effect.gen(function*() {
        const status = yield* client.v2Status
        if (status.version !== "v2") return yield* Effect.fail(`version is ${JSON.stringify(status.version)}, expected "v2"`)
        if (status.healthz !== "ok") return yield* Effect.fail(`healthz is ${JSON.stringify(status.healthz)}`)
        if (status.keyId === "") return yield* Effect.fail("key_id is empty")
        statusKeyId = status.keyId
        return `healthz ok, key_id ${status.keyId}`
      })
    )
    const roundTrip = yield* check(
      "v2 Encrypt/Decrypt",
      Effect.gen(function*() {
        const seed = randomBytes(32)
        const uid = `probe-${randomBytes(8).toString("hex")}`
        const encrypted = yield* client.v2Encrypt({ plaintext: seed, uid })
        if (encrypted.ciphertext.length === 0 || encrypted.ciphertext.length > 1024) {
          return yield* Effect.fail(`ciphertext of a 32-byte seed is ${encrypted.ciphertext.length} bytes; the apiserver takes 1-1024`)
        }
        if (statusKeyId !== "" && encrypted.keyId !== statusKeyId) {
          return yield* Effect.fail(`Encrypt key_id ${encrypted.keyId} differs from Status key_id ${statusKeyId}`)
        }
        const decrypted = yield* client.v2Decrypt({
          ciphertext: encrypted.ciphertext,
          keyId: encrypted.keyId,
          annotations: encrypted.annotations,
          uid
        })
        if (!sameBytes(decrypted.plaintext, seed)) return yield* Effect.fail("Decrypt returned a different plaintext")
        return `32-byte seed, ciphertext ${encrypted.ciphertext.length} bytes`
      })
    )
    return [status, roundTrip]
  })

export const checkV1 = (client: PluginClient): Effect.Effect<ReadonlyArray<CheckResult>> =>
  Effect.gen(function*() {
    const version = yield* check(
      "v1beta1 Version",
      Effect.gen(function*() {
        const version = yield* client.v1Version
        if (version.version !== "v1beta1") return yield* Effect.fail(`version is ${JSON.stringify(version.version)}, expected "v1beta1"`)
        return `${version.runtimeName} ${version.runtimeVersion}`
      })
    )
    const roundTrip = yield* check(
      "v1beta1 Encrypt/Decrypt",
      Effect.gen(function*() {
        const key = randomBytes(32)
        const encrypted = yield* client.v1Encrypt(key)
        const decrypted = yield* client.v1Decrypt(encrypted.cipher)
        if (!sameBytes(decrypted.plain, key)) return yield* Effect.fail("Decrypt returned a different plaintext")
        return `32-byte key, ciphertext ${encrypted.cipher.length} bytes`
      })
    )
    return [version, roundTrip]
  })

export const formatReport = (title: string, results: ReadonlyArray<CheckResult>): string => {
  const width = Math.max(...results.map((r) => r.name.length))
  const lines = results.map((r) => `  ${r.ok ? "ok  " : "FAIL"}  ${r.name.padEnd(width)}  ${r.detail}`)
  const failed = results.filter((r) => !r.ok).length
  return [title, ...lines, `${results.length - failed} passed, ${failed} failed`].join("\n")
}
