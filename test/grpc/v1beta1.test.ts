import { randomBytes } from "node:crypto"
import { assert, describe, layer } from "@effect/vitest"
import { status } from "@grpc/grpc-js"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as fc from "fast-check"
import { maxPlaintextBytes } from "../../src/grpc/RequestRules.ts"
import { pluginVersion } from "../../src/version.ts"
import { InProcessPlugin } from "../support/InProcessPlugin.ts"

describe("KMS v1beta1 over a real unix socket (fake backend)", () => {
  layer(InProcessPlugin.layer(), { excludeTestServices: true })("one plugin", (it) => {
    it.effect("Version answers v1beta1 with the runtime name and version", () =>
      Effect.gen(function* () {
        const { client } = yield* InProcessPlugin
        const answer = yield* client.v1Version
        assert.deepStrictEqual(answer, { version: "v1beta1", runtimeName: "CloudKMS", runtimeVersion: pluginVersion })
      })
    )

    it.effect("round trip for any plaintext of 1 B to 64 KiB", () =>
      Effect.gen(function* () {
        const { client } = yield* InProcessPlugin
        yield* Effect.promise(() =>
          fc.assert(
            fc.asyncProperty(fc.uint8Array({ minLength: 1, maxLength: maxPlaintextBytes }), async (plain) => {
              const back = await Effect.runPromise(Effect.flatMap(client.v1Encrypt(plain), (e) => client.v1Decrypt(e.cipher)))
              assert.deepStrictEqual(Buffer.from(back.plain), Buffer.from(plain))
            }),
            { numRuns: 40 }
          )
        )
      })
    )

    it.effect("v1beta1 ciphertext also decrypts through v2 with the current key_id, and back", () =>
      Effect.gen(function* () {
        const { client } = yield* InProcessPlugin
        const key = randomBytes(32)
        const v1 = yield* client.v1Encrypt(key)
        const keyId = (yield* client.v2Status).keyId
        const viaV2 = yield* client.v2Decrypt({ ciphertext: v1.cipher, keyId })
        assert.deepStrictEqual(Buffer.from(viaV2.plaintext), key)
        const v2 = yield* client.v2Encrypt({ plaintext: key })
        const viaV1 = yield* client.v1Decrypt(v2.ciphertext)
        assert.deepStrictEqual(Buffer.from(viaV1.plain), key)
      })
    )

    it.effect("empty or oversize plaintext, empty or unopenable cipher: INVALID_ARGUMENT", () =>
      Effect.gen(function* () {
        const { client } = yield* InProcessPlugin
        const codes = yield* Effect.forEach(
          [
            Effect.asVoid(client.v1Encrypt(new Uint8Array(0))),
            Effect.asVoid(client.v1Encrypt(new Uint8Array(maxPlaintextBytes + 1))),
            Effect.asVoid(client.v1Decrypt(new Uint8Array(0))),
            Effect.asVoid(client.v1Decrypt(randomBytes(64)))
          ],
          (call) => Effect.map(Effect.flip(call), (e) => e.code)
        )
        assert.deepStrictEqual(codes, Array(4).fill(status.INVALID_ARGUMENT))
      })
    )
  })

  layer(InProcessPlugin.layer({ flags: { kms: Option.some("v2") } }), { excludeTestServices: true })("with --kms v2", (it) => {
    it.effect("v1beta1 is not served (UNIMPLEMENTED), v2 is", () =>
      Effect.gen(function* () {
        const { client } = yield* InProcessPlugin
        const failure = yield* Effect.flip(client.v1Version)
        assert.strictEqual(failure.code, status.UNIMPLEMENTED)
        assert.strictEqual((yield* client.v2Status).healthz, "ok")
      })
    )
  })

  layer(InProcessPlugin.layer({ flags: { kms: Option.some("v1") } }), { excludeTestServices: true })("with --kms v1", (it) => {
    it.effect("v2 is not served (UNIMPLEMENTED), v1beta1 is", () =>
      Effect.gen(function* () {
        const { client } = yield* InProcessPlugin
        const failure = yield* Effect.flip(client.v2Status)
        assert.strictEqual(failure.code, status.UNIMPLEMENTED)
        assert.strictEqual((yield* client.v1Version).version, "v1beta1")
      })
    )
  })
})
