import { assert, describe, layer } from "@effect/vitest"
import { status } from "@grpc/grpc-js"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import * as fc from "fast-check"
import { InProcessPlugin } from "../support/InProcessPlugin.ts"

// Any single-bit change to what the apiserver stores next to a seed
// (ciphertext, key_id, annotations) gives an error, never a plaintext.

const flipBit = (bytes: Uint8Array, bit: number): Uint8Array => {
  const copy = Uint8Array.from(bytes)
  const index = Math.floor(bit / 8) % copy.length
  copy[index] = (copy[index] ?? 0) ^ (1 << (bit % 8))
  return copy
}

// key_id travels as a proto string (UTF-8); flip one of the 7 bits of an ASCII char.
const flipKeyIdBit = (keyId: string, position: number, bit: number): string => {
  const index = position % keyId.length
  return keyId.slice(0, index) + String.fromCharCode(keyId.charCodeAt(index) ^ (1 << (bit % 7))) + keyId.slice(index + 1)
}

describe("tamper detection through the socket", () => {
  layer(InProcessPlugin.layer({ flags: { keySuffix: Option.some("s1") } }), { excludeTestServices: true })(
    "v2 (with a key suffix)",
    (it) => {
      it.effect("a flipped bit anywhere in ciphertext or key_id, or an added annotation, is refused", () =>
        Effect.gen(function* () {
          const { client, control } = yield* InProcessPlugin
          // Several versions exist, so a flipped version digit can name a real one.
          yield* control.rotate()
          yield* control.rotate()
          yield* Effect.promise(() =>
            fc.assert(
              fc.asyncProperty(
                fc.uint8Array({ minLength: 1, maxLength: 256 }),
                fc.nat(),
                fc.oneof(fc.constant("ciphertext"), fc.constant("keyId"), fc.constant("annotations")),
                fc.nat(),
                async (plaintext, bit, where, position) => {
                  const encrypted = await Effect.runPromise(client.v2Encrypt({ plaintext }))
                  const request =
                    where === "ciphertext"
                      ? { ciphertext: flipBit(encrypted.ciphertext, bit), keyId: encrypted.keyId }
                      : where === "keyId"
                        ? { ciphertext: encrypted.ciphertext, keyId: flipKeyIdBit(encrypted.keyId, position, bit) }
                        : {
                            ciphertext: encrypted.ciphertext,
                            keyId: encrypted.keyId,
                            annotations: { "a.example.com": new Uint8Array([bit % 256]) }
                          }
                  const exit = await Effect.runPromiseExit(client.v2Decrypt(request))
                  assert.isTrue(Exit.isFailure(exit), `${where} tampered, yet decrypted`)
                }
              ),
              { numRuns: 300 }
            )
          )
        })
      )

      it.effect("the codes for tampering are INVALID_ARGUMENT (or FAILED_PRECONDITION for a disabled version)", () =>
        Effect.gen(function* () {
          const { client } = yield* InProcessPlugin
          const encrypted = yield* client.v2Encrypt({ plaintext: new Uint8Array([1, 2, 3]) })
          const codes = new Set<number>()
          for (let bit = 0; bit < encrypted.ciphertext.length * 8; bit += 3) {
            const failure = yield* Effect.flip(client.v2Decrypt({ ciphertext: flipBit(encrypted.ciphertext, bit), keyId: encrypted.keyId }))
            codes.add(failure.code)
          }
          for (let i = 0; i < encrypted.keyId.length; i++) {
            const failure = yield* Effect.flip(
              client.v2Decrypt({ ciphertext: encrypted.ciphertext, keyId: flipKeyIdBit(encrypted.keyId, i, i) })
            )
            codes.add(failure.code)
          }
          assert.deepStrictEqual(
            [...codes].filter((c) => c !== status.INVALID_ARGUMENT && c !== status.FAILED_PRECONDITION),
            []
          )
        })
      )
    }
  )

  layer(InProcessPlugin.layer(), { excludeTestServices: true })("v1beta1", (it) => {
    it.effect("a flipped bit anywhere in the cipher is refused", () =>
      Effect.gen(function* () {
        const { client } = yield* InProcessPlugin
        yield* Effect.promise(() =>
          fc.assert(
            fc.asyncProperty(fc.uint8Array({ minLength: 1, maxLength: 256 }), fc.nat(), async (plain, bit) => {
              const encrypted = await Effect.runPromise(client.v1Encrypt(plain))
              const exit = await Effect.runPromiseExit(client.v1Decrypt(flipBit(encrypted.cipher, bit)))
              assert.isTrue(Exit.isFailure(exit), "tampered cipher decrypted")
            }),
            { numRuns: 200 }
          )
        )
      })
    )
  })
})
