import * as path from "node:path"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Result from "effect/Result"
import { parseKeyVersionName } from "../../../src/config/KeyNames.ts"
import { saveFakeKeys } from "../../../src/kms/fake/FakeKeyFile.ts"
import { newCryptoKey, sealWithPrimary } from "../../../src/kms/fake/FakeKeyRing.ts"
import { fakeKms, keyA, keyB } from "../../support/fakeKmsBackend.ts"
import { tempDir } from "../../support/tempDir.ts"

// Decrypt in the fake backend: a v2 key_id picks exactly one configured key
// version; v1beta1 (no key_id) tries every configured key. Each refusal says why.

const limits = { deadline: undefined }
const plaintext = Buffer.from("data key")
const outcome = <E extends { readonly _tag: string; readonly message: string }>(effect: Effect.Effect<Uint8Array, E>) =>
  Effect.match(effect, { onFailure: (e) => `${e._tag}: ${e.message}`, onSuccess: (opened) => `opened ${Buffer.from(opened).toString()}` })
const versionOf = (name: string) => {
  const parsed = parseKeyVersionName(name)
  if (parsed === undefined) throw new Error(`not a key version: ${name}`)
  return parsed
}

/** A key file holding keyB, and data sealed by keyB's version 1. */
const keyFileWithDataOfKeyB = Effect.gen(function* () {
  const file = path.join(yield* tempDir, "keys.json")
  const b = newCryptoKey(keyB)
  yield* saveFakeKeys(file, [b])
  return { file, ciphertext: Result.getOrThrow(sealWithPrimary(b, plaintext)).ciphertext }
})

describe("fake backend decrypt", () => {
  it.effect("v2: the key_id's key and version open it; another version of that key is refused before decrypting", () =>
    Effect.gen(function* () {
      const { control, kms } = yield* fakeKms()
      const sealed = yield* kms.encrypt(plaintext, limits)
      assert.strictEqual(sealed.keyVersion, `${keyA}/cryptoKeyVersions/1`)
      assert.strictEqual(yield* outcome(kms.decrypt(sealed.ciphertext, versionOf(sealed.keyVersion), limits)), "opened data key")
      yield* control.rotate()
      assert.strictEqual(
        yield* outcome(kms.decrypt(sealed.ciphertext, { cryptoKey: keyA, version: 2 }, limits)),
        `InvalidCiphertext: key_id names version 2 of ${keyA}, but the ciphertext was not made with it`
      )
    }).pipe(Effect.scoped)
  )

  it.effect("v2: a key_id naming a --decrypt-key-uri key opens with that key", () =>
    Effect.gen(function* () {
      const { file, ciphertext: byB } = yield* keyFileWithDataOfKeyB
      const { kms } = yield* fakeKms({ decryptKeyUri: [keyB], fakeKeyFile: Option.some(file) })
      assert.strictEqual(yield* outcome(kms.decrypt(byB, { cryptoKey: keyB, version: 1 }, limits)), "opened data key")
    }).pipe(Effect.scoped)
  )

  it.effect("v2: a key_id naming a key that is not configured is UnknownKey, even if the key file still has it", () =>
    Effect.gen(function* () {
      // keyB's material is in the file (say, from an earlier --decrypt-key-uri), but keyB is no longer configured.
      const { file, ciphertext: byB } = yield* keyFileWithDataOfKeyB
      const { kms } = yield* fakeKms({ fakeKeyFile: Option.some(file) })
      assert.strictEqual(
        yield* outcome(kms.decrypt(byB, { cryptoKey: keyB, version: 1 }, limits)),
        `UnknownKey: ${keyB} is not a configured key`
      )
      const other = "projects/p/locations/global/keyRings/r/cryptoKeys/never"
      assert.strictEqual(
        yield* outcome(kms.decrypt(byB, { cryptoKey: other, version: 1 }, limits)),
        `UnknownKey: ${other} is not a configured key`
      )
    }).pipe(Effect.scoped)
  )

  it.effect("v1beta1: any configured key that made it opens it, --key-uri or --decrypt-key-uri", () =>
    Effect.gen(function* () {
      const { control, kms } = yield* fakeKms({ decryptKeyUri: [keyB] })
      const byA = yield* kms.encrypt(plaintext, limits)
      yield* control.rotate(keyB)
      assert.strictEqual(yield* outcome(kms.decrypt(byA.ciphertext, undefined, limits)), "opened data key")
    }).pipe(Effect.scoped)
  )

  it.effect("v1beta1: data no configured key opens is InvalidCiphertext listing the keys tried", () =>
    Effect.gen(function* () {
      const { kms } = yield* fakeKms({ decryptKeyUri: [keyB] })
      const foreign = Result.getOrThrow(sealWithPrimary(newCryptoKey("projects/p/locations/global/keyRings/r/cryptoKeys/other"), plaintext))
      const expected = `InvalidCiphertext: no configured key (${keyA}, ${keyB}) opens this ciphertext`
      assert.strictEqual(yield* outcome(kms.decrypt(foreign.ciphertext, undefined, limits)), expected)
      assert.strictEqual(yield* outcome(kms.decrypt(Buffer.from("garbage"), undefined, limits)), expected)
    }).pipe(Effect.scoped)
  )

  it.effect("v1beta1: data of a disabled version says KeyUnusable (what to do), whichever key is tried first", () =>
    Effect.gen(function* () {
      // keyB made it, so keyA (tried first) fails authentication; then keyB's version is disabled.
      const { file, ciphertext: byB } = yield* keyFileWithDataOfKeyB
      const { control, kms } = yield* fakeKms({ decryptKeyUri: [keyB], fakeKeyFile: Option.some(file) })
      assert.strictEqual(yield* outcome(kms.decrypt(byB, undefined, limits)), "opened data key")
      yield* control.setVersionState(1, "DISABLED", keyB)
      assert.strictEqual(
        yield* outcome(kms.decrypt(byB, undefined, limits)),
        `KeyUnusable: ${keyB}/cryptoKeyVersions/1 is DISABLED; enable it, or rotate to a new primary version`
      )
      // And the other way round: keyA made it and is disabled, keyB fails authentication.
      const byA = yield* kms.encrypt(plaintext, limits)
      yield* control.setVersionState(1, "DISABLED")
      assert.strictEqual(
        yield* outcome(kms.decrypt(byA.ciphertext, undefined, limits)),
        `KeyUnusable: ${keyA}/cryptoKeyVersions/1 is DISABLED; enable it, or rotate to a new primary version`
      )
    }).pipe(Effect.scoped)
  )
})
