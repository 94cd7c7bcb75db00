import { randomBytes } from "node:crypto"
import * as fs from "node:fs"
import * as path from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { status } from "@grpc/grpc-js"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type { PluginFlags } from "../../../src/config/flags.ts"
import { fakeKeyUri, InProcessPlugin, oldKeyUri } from "../../support/InProcessPlugin.ts"
import { tempDir } from "../../support/tempDir.ts"

// Moving to a new crypto key with no downtime: the old key stays as a
// --decrypt-key-uri until all data is re-wrapped. Each step is a plugin
// restart; the fake backend keeps its keys in --fake-key-file between them.

const withPlugin = <A, E>(flags: Partial<PluginFlags>, use: Effect.Effect<A, E, InProcessPlugin>) =>
  Effect.scoped(Effect.provide(use, InProcessPlugin.layer({ flags })))

describe("key migration with --decrypt-key-uri", () => {
  it.live("data wrapped by the old key decrypts on both APIs after the switch, and only while the old key is listed", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const keyFilePath = path.join(dir, "fake-keys.json")
      const keyFile = Option.some(keyFilePath)
      const v1Key = randomBytes(32)
      const v2Seed = randomBytes(32)

      const before = yield* withPlugin(
        { keyUri: Option.some(oldKeyUri), fakeKeyFile: keyFile },
        Effect.gen(function* () {
          const { client } = yield* InProcessPlugin
          return { v1: (yield* client.v1Encrypt(v1Key)).cipher, v2: yield* client.v2Encrypt({ plaintext: v2Seed }) }
        })
      )
      assert.strictEqual(before.v2.keyId, `${oldKeyUri}/cryptoKeyVersions/1`)
      assert.strictEqual(fs.statSync(keyFilePath).mode & 0o777, 0o600)

      yield* withPlugin(
        { keyUri: Option.some(fakeKeyUri), decryptKeyUri: [oldKeyUri], fakeKeyFile: keyFile },
        Effect.gen(function* () {
          const { client } = yield* InProcessPlugin
          assert.strictEqual((yield* client.v2Status).keyId, `${fakeKeyUri}/cryptoKeyVersions/1`)
          assert.deepStrictEqual(Buffer.from((yield* client.v1Decrypt(before.v1)).plain), v1Key)
          const v2 = yield* client.v2Decrypt({ ciphertext: before.v2.ciphertext, keyId: before.v2.keyId })
          assert.deepStrictEqual(Buffer.from(v2.plaintext), v2Seed)
          // New data goes to the new key.
          assert.strictEqual((yield* client.v2Encrypt({ plaintext: v2Seed })).keyId, `${fakeKeyUri}/cryptoKeyVersions/1`)
        })
      )

      yield* withPlugin(
        { keyUri: Option.some(fakeKeyUri), fakeKeyFile: keyFile },
        Effect.gen(function* () {
          const { client } = yield* InProcessPlugin
          const v2 = yield* Effect.flip(client.v2Decrypt({ ciphertext: before.v2.ciphertext, keyId: before.v2.keyId }))
          assert.strictEqual(v2.code, status.INVALID_ARGUMENT)
          assert.include(v2.details, oldKeyUri)
          const v1 = yield* Effect.flip(client.v1Decrypt(before.v1))
          assert.strictEqual(v1.code, status.INVALID_ARGUMENT)
        })
      )
    })
  )

  it.live("a corrupt --fake-key-file stops the start with an error naming the flag", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const file = path.join(dir, "keys.json")
      fs.writeFileSync(file, '{"format":1,"keys":[{"name":1}]}')
      const error = yield* Effect.flip(withPlugin({ fakeKeyFile: Option.some(file) }, Effect.void))
      assert.strictEqual(error._tag, "ConfigError")
      assert.include(error.message, "--fake-key-file")
      assert.strictEqual(fs.readFileSync(file, "utf8"), '{"format":1,"keys":[{"name":1}]}')
    })
  )
})
