import { randomBytes } from "node:crypto"
import { assert, describe, layer } from "@effect/vitest"
import { status } from "@grpc/grpc-js"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as fc from "fast-check"
import type { CallFailed } from "../../src/client/PluginClient.ts"
import { maxCiphertextBytes, maxPlaintextBytes } from "../../src/grpc/RequestRules.ts"
import { fakeKeyUri, InProcessPlugin, oldKeyUri } from "../support/InProcessPlugin.ts"

const failureOf = <A>(effect: Effect.Effect<A, CallFailed>) =>
  Effect.flip(effect).pipe(Effect.map((error) => ({ code: error.code, details: error.details })))

describe("KMS v2 over a real unix socket (fake backend)", () => {
  layer(InProcessPlugin.layer(), { excludeTestServices: true })("one plugin", (it) => {
    it.effect("Status reports v2, ok and the current key version as key_id", () =>
      Effect.gen(function* () {
        const { client } = yield* InProcessPlugin
        const answer = yield* client.v2Status
        assert.strictEqual(answer.version, "v2")
        assert.strictEqual(answer.healthz, "ok")
        assert.strictEqual(answer.keyId, `${fakeKeyUri}/cryptoKeyVersions/1`)
      })
    )

    it.effect("Encrypt returns Status's key_id, a small ciphertext and no annotations; Decrypt restores the plaintext", () =>
      Effect.gen(function* () {
        const { client } = yield* InProcessPlugin
        const seed = randomBytes(32)
        const encrypted = yield* client.v2Encrypt({ plaintext: seed, uid: "u-1" })
        assert.strictEqual(encrypted.keyId, (yield* client.v2Status).keyId)
        assert.isAtMost(encrypted.ciphertext.length, 1024)
        assert.isAbove(encrypted.ciphertext.length, 32)
        assert.deepStrictEqual(Object.keys(encrypted.annotations), [])
        assert.notDeepEqual(Buffer.from(encrypted.ciphertext).subarray(0, 32), seed)
        const decrypted = yield* client.v2Decrypt({ ciphertext: encrypted.ciphertext, keyId: encrypted.keyId, uid: "u-2" })
        assert.deepStrictEqual(Buffer.from(decrypted.plaintext), seed)
      })
    )

    it.effect("the same plaintext twice gives two different ciphertexts (random nonces)", () =>
      Effect.gen(function* () {
        const { client } = yield* InProcessPlugin
        const seed = randomBytes(32)
        const a = yield* client.v2Encrypt({ plaintext: seed })
        const b = yield* client.v2Encrypt({ plaintext: seed })
        assert.notDeepEqual(Buffer.from(a.ciphertext), Buffer.from(b.ciphertext))
      })
    )

    it.effect("round trip for any plaintext of 1 B to 64 KiB", () =>
      Effect.gen(function* () {
        const { client } = yield* InProcessPlugin
        yield* Effect.promise(() =>
          fc.assert(
            fc.asyncProperty(
              fc.oneof(
                fc.uint8Array({ minLength: 1, maxLength: 64 }),
                fc.uint8Array({ minLength: 1, maxLength: maxPlaintextBytes }),
                fc.constant(new Uint8Array(maxPlaintextBytes).fill(7))
              ),
              async (plaintext) => {
                const back = await Effect.runPromise(
                  Effect.flatMap(client.v2Encrypt({ plaintext }), (e) => client.v2Decrypt({ ciphertext: e.ciphertext, keyId: e.keyId }))
                )
                assert.deepStrictEqual(Buffer.from(back.plaintext), Buffer.from(plaintext))
              }
            ),
            { numRuns: 60 }
          )
        )
      })
    )

    it.effect("empty or oversize plaintext is INVALID_ARGUMENT", () =>
      Effect.gen(function* () {
        const { client } = yield* InProcessPlugin
        const empty = yield* failureOf(client.v2Encrypt({ plaintext: new Uint8Array(0) }))
        assert.strictEqual(empty.code, status.INVALID_ARGUMENT)
        assert.include(empty.details, "plaintext is empty")
        const big = yield* failureOf(client.v2Encrypt({ plaintext: new Uint8Array(maxPlaintextBytes + 1) }))
        assert.strictEqual(big.code, status.INVALID_ARGUMENT)
        assert.include(big.details, `${maxPlaintextBytes + 1} bytes`)
      })
    )

    it.effect("a request message far over the cap is refused by its length, never UNKNOWN", () =>
      Effect.gen(function* () {
        const { client } = yield* InProcessPlugin
        const huge = yield* failureOf(client.v2Encrypt({ plaintext: new Uint8Array(4 * 1024 * 1024) }))
        assert.strictEqual(huge.code, status.RESOURCE_EXHAUSTED)
      })
    )

    it.effect("empty, oversize or unopenable ciphertext is INVALID_ARGUMENT", () =>
      Effect.gen(function* () {
        const { client } = yield* InProcessPlugin
        const keyId = (yield* client.v2Status).keyId
        const empty = yield* failureOf(client.v2Decrypt({ ciphertext: new Uint8Array(0), keyId }))
        assert.strictEqual(empty.code, status.INVALID_ARGUMENT)
        const big = yield* failureOf(client.v2Decrypt({ ciphertext: new Uint8Array(maxCiphertextBytes + 1), keyId }))
        assert.strictEqual(big.code, status.INVALID_ARGUMENT)
        const junk = yield* failureOf(client.v2Decrypt({ ciphertext: randomBytes(80), keyId }))
        assert.strictEqual(junk.code, status.INVALID_ARGUMENT)
      })
    )

    it.effect("malformed key_ids are INVALID_ARGUMENT", () =>
      Effect.gen(function* () {
        const { client } = yield* InProcessPlugin
        const encrypted = yield* client.v2Encrypt({ plaintext: randomBytes(32) })
        const malformed = [
          "",
          "not-a-key",
          fakeKeyUri,
          `${fakeKeyUri}/cryptoKeyVersions/0`,
          `${fakeKeyUri}/cryptoKeyVersions/x`,
          `${encrypted.keyId}:`,
          `${encrypted.keyId}:bad suffix`,
          `${encrypted.keyId}/extra`,
          "x".repeat(1025)
        ]
        for (const keyId of malformed) {
          const failure = yield* failureOf(client.v2Decrypt({ ciphertext: encrypted.ciphertext, keyId }))
          assert.strictEqual(failure.code, status.INVALID_ARGUMENT, keyId)
        }
      })
    )

    it.effect("a key_id of a key that is not configured is INVALID_ARGUMENT naming the key", () =>
      Effect.gen(function* () {
        const { client } = yield* InProcessPlugin
        const encrypted = yield* client.v2Encrypt({ plaintext: randomBytes(32) })
        const failure = yield* failureOf(client.v2Decrypt({ ciphertext: encrypted.ciphertext, keyId: `${oldKeyUri}/cryptoKeyVersions/1` }))
        assert.strictEqual(failure.code, status.INVALID_ARGUMENT)
        assert.include(failure.details, oldKeyUri)
      })
    )

    it.effect("annotations the plugin never wrote are INVALID_ARGUMENT", () =>
      Effect.gen(function* () {
        const { client } = yield* InProcessPlugin
        const encrypted = yield* client.v2Encrypt({ plaintext: randomBytes(32) })
        const failure = yield* failureOf(
          client.v2Decrypt({
            ciphertext: encrypted.ciphertext,
            keyId: encrypted.keyId,
            annotations: { "version.kms.example.io": Buffer.from("1") }
          })
        )
        assert.strictEqual(failure.code, status.INVALID_ARGUMENT)
        assert.include(failure.details, "version.kms.example.io")
      })
    )
  })

  layer(InProcessPlugin.layer({ flags: { keySuffix: Option.some("r2") } }), { excludeTestServices: true })("with --key-suffix", (it) => {
    it.effect("key_id carries the suffix in Status and Encrypt, and decrypts with it", () =>
      Effect.gen(function* () {
        const { client } = yield* InProcessPlugin
        const statusKeyId = (yield* client.v2Status).keyId
        assert.strictEqual(statusKeyId, `${fakeKeyUri}/cryptoKeyVersions/1:r2`)
        const encrypted = yield* client.v2Encrypt({ plaintext: randomBytes(32) })
        assert.strictEqual(encrypted.keyId, statusKeyId)
        yield* client.v2Decrypt({ ciphertext: encrypted.ciphertext, keyId: encrypted.keyId })
      })
    )

    it.effect("data from before the suffix (no suffix) still decrypts; another suffix is refused", () =>
      Effect.gen(function* () {
        const { client } = yield* InProcessPlugin
        const encrypted = yield* client.v2Encrypt({ plaintext: randomBytes(32) })
        const bare = encrypted.keyId.replace(/:r2$/, "")
        yield* client.v2Decrypt({ ciphertext: encrypted.ciphertext, keyId: bare })
        const other = yield* failureOf(client.v2Decrypt({ ciphertext: encrypted.ciphertext, keyId: `${bare}:r3` }))
        assert.strictEqual(other.code, status.INVALID_ARGUMENT)
        assert.include(other.details, "r3")
      })
    )
  })
})
