import { randomBytes, timingSafeEqual } from "node:crypto"
import * as Effect from "effect/Effect"
import type { CallFailed, PluginClient } from "./PluginClient.ts"

// The KMS round trip that `probe`, `selftest` and /healthz?ping-kms=true all
// make through a plugin's socket: a random 32-byte seed (what the apiserver
// sends) through Encrypt and Decrypt, and the same bytes back.

/** What Encrypt answered for the seed (v1beta1 has no key_id). */
export interface Wrapped {
  readonly ciphertext: Uint8Array
  readonly keyId: string | undefined
}

const sameBytes = (a: Uint8Array, b: Uint8Array): boolean => a.length === b.length && timingSafeEqual(a, b)

/**
 * Encrypts a fresh seed on `api`, lets `inspect` refuse the answer (a reason)
 * before it is decrypted, and fails unless Decrypt gives the seed back.
 */
export const roundTrip = (
  client: PluginClient,
  api: "v2" | "v1beta1",
  uid: string,
  inspect: (wrapped: Wrapped) => string | undefined = () => undefined
): Effect.Effect<Wrapped, CallFailed | string> =>
  Effect.gen(function* () {
    const seed = randomBytes(32)
    if (api === "v2") {
      const encrypted = yield* client.v2Encrypt({ plaintext: seed, uid })
      const wrapped = { ciphertext: encrypted.ciphertext, keyId: encrypted.keyId }
      const refused = inspect(wrapped)
      if (refused !== undefined) return yield* Effect.fail(refused)
      const decrypted = yield* client.v2Decrypt({
        ciphertext: encrypted.ciphertext,
        keyId: encrypted.keyId,
        annotations: encrypted.annotations,
        uid
      })
      if (!sameBytes(decrypted.plaintext, seed)) return yield* Effect.fail("Decrypt returned a different plaintext")
      return wrapped
    }
    const encrypted = yield* client.v1Encrypt(seed)
    const wrapped = { ciphertext: encrypted.cipher, keyId: undefined }
    const refused = inspect(wrapped)
    if (refused !== undefined) return yield* Effect.fail(refused)
    const decrypted = yield* client.v1Decrypt(encrypted.cipher)
    if (!sameBytes(decrypted.plain, seed)) return yield* Effect.fail("Decrypt returned a different plaintext")
    return wrapped
  })
