import { assert, describe, layer } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as fc from "fast-check"
import { fakeKeyUri, InProcessPlugin } from "../support/InProcessPlugin.ts"

// Rotation never breaks decryption of older ciphertexts, and Encrypt's key_id
// always equals what Status reports at that moment.

type Step = { readonly kind: "encrypt"; readonly plaintext: Uint8Array } | { readonly kind: "rotate" }

const step: fc.Arbitrary<Step> = fc.oneof(
  { weight: 3, arbitrary: fc.uint8Array({ minLength: 1, maxLength: 64 }).map((plaintext) => ({ kind: "encrypt" as const, plaintext })) },
  { weight: 1, arbitrary: fc.constant({ kind: "rotate" as const }) }
)

describe("key rotation", () => {
  layer(InProcessPlugin.layer(), { excludeTestServices: true })("fake backend", (it) => {
    it.effect("every ciphertext made before any number of rotations still decrypts on v2 and v1beta1", () =>
      Effect.gen(function* () {
        const { client, control } = yield* InProcessPlugin
        yield* Effect.promise(() =>
          fc.assert(
            fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 12 }), async (steps) => {
              const made: Array<{ plaintext: Uint8Array; ciphertext: Uint8Array; keyId: string }> = []
              for (const s of steps) {
                if (s.kind === "rotate") {
                  await Effect.runPromise(control.rotate())
                  continue
                }
                const statusKeyId = (await Effect.runPromise(client.v2Status)).keyId
                const encrypted = await Effect.runPromise(client.v2Encrypt({ plaintext: s.plaintext }))
                assert.strictEqual(encrypted.keyId, statusKeyId)
                made.push({ plaintext: s.plaintext, ciphertext: encrypted.ciphertext, keyId: encrypted.keyId })
              }
              for (const m of made) {
                const v2 = await Effect.runPromise(client.v2Decrypt({ ciphertext: m.ciphertext, keyId: m.keyId }))
                assert.deepStrictEqual(Buffer.from(v2.plaintext), Buffer.from(m.plaintext))
                const v1 = await Effect.runPromise(client.v1Decrypt(m.ciphertext))
                assert.deepStrictEqual(Buffer.from(v1.plain), Buffer.from(m.plaintext))
              }
            }),
            { numRuns: 40 }
          )
        )
      })
    )

    it.effect("Status key_id moves to the new version at once; a disabled primary makes healthz say why", () =>
      Effect.gen(function* () {
        const { client, control } = yield* InProcessPlugin
        const version = yield* control.rotate()
        const status = yield* client.v2Status
        assert.strictEqual(status.keyId, `${fakeKeyUri}/cryptoKeyVersions/${version}`)
        yield* control.setVersionState(version, "DISABLED")
        const unhealthy = yield* client.v2Status
        assert.include(unhealthy.healthz, "DISABLED")
        const failure = yield* Effect.flip(client.v2Encrypt({ plaintext: new Uint8Array([1]) }))
        assert.strictEqual(failure.code, 9) // FAILED_PRECONDITION
        yield* control.setVersionState(version, "ENABLED")
        assert.strictEqual((yield* client.v2Status).healthz, "ok")
      })
    )
  })
})
