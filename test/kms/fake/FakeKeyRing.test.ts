import { createDecipheriv } from "node:crypto"
import { assert, describe, it } from "@effect/vitest"
import * as Result from "effect/Result"
import * as fc from "fast-check"
import {
  keyVersion,
  minimumCiphertextLength,
  newCryptoKey,
  open,
  rotated,
  sealWithPrimary,
  withPrimary,
  withVersionState
} from "../../../src/kms/fake/FakeKeyRing.ts"

const name = "projects/p/locations/l/keyRings/r/cryptoKeys/k"
const other = "projects/p/locations/l/keyRings/r/cryptoKeys/other"

const seal = (key: ReturnType<typeof newCryptoKey>, plaintext: Uint8Array) => Result.getOrThrow(sealWithPrimary(key, plaintext))
const failure = (result: Result.Result<unknown, { readonly _tag: string; readonly message: string }>) =>
  Result.isFailure(result) ? `${result.failure._tag}: ${result.failure.message}` : "opened"

describe("fake key ring", () => {
  it("seal/open round trip; the version travels in the ciphertext header; nonces differ (P)", () => {
    const key = newCryptoKey(name)
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1, maxLength: 512 }), (plaintext) => {
        const a = seal(key, plaintext)
        const b = seal(key, plaintext)
        assert.notDeepEqual(a.ciphertext, b.ciphertext)
        assert.deepStrictEqual(a.keyVersion, { cryptoKey: name, version: 1 })
        assert.strictEqual(a.ciphertext.readUInt8(0), 1)
        assert.strictEqual(a.ciphertext.readUInt32BE(1), 1)
        assert.strictEqual(a.ciphertext.length, plaintext.length + 33)
        assert.deepStrictEqual(Result.getOrThrow(open(key, a.ciphertext, undefined)), Buffer.from(plaintext))
        assert.deepStrictEqual(Result.getOrThrow(open(key, a.ciphertext, 1)), Buffer.from(plaintext))
      })
    )
  })

  it("rotation adds the next version and makes it primary; old versions still open; the key it came from is unchanged", () => {
    const key = newCryptoKey(name)
    const old = seal(key, Buffer.from("old"))
    const twice = rotated(rotated(key))
    assert.strictEqual(twice.primary, 3)
    assert.deepStrictEqual([...twice.versions.keys()], [1, 2, 3])
    assert.strictEqual(seal(twice, Buffer.from("new")).ciphertext.readUInt32BE(1), 3)
    assert.strictEqual(Result.getOrThrow(open(twice, old.ciphertext, 1)).toString(), "old")
    assert.strictEqual(key.primary, 1)
    assert.deepStrictEqual([...key.versions.keys()], [1])
  })

  it("a rotation's number is above every version and the primary, even a primary missing from the versions", () => {
    const key = { ...newCryptoKey(name), primary: 5 }
    assert.strictEqual(rotated(key).primary, 6)
    assert.strictEqual(rotated(rotated(newCryptoKey(name))).primary, 3)
  })

  it("version state and primary changes make new keys; unknown versions give undefined", () => {
    const key = rotated(newCryptoKey(name))
    const disabled = withVersionState(key, 1, "DISABLED")
    assert.strictEqual(disabled?.versions.get(1)?.state, "DISABLED")
    assert.strictEqual(key.versions.get(1)?.state, "ENABLED")
    assert.strictEqual(withPrimary(key, 1)?.primary, 1)
    assert.strictEqual(key.primary, 2)
    assert.isUndefined(withVersionState(key, 3, "DISABLED"))
    assert.isUndefined(withPrimary(key, 3))
  })

  it("refuses: another key's ciphertext, a key_id naming another version, short or unknown-format data, a missing or disabled version", () => {
    const key = newCryptoKey(name)
    const sealed = seal(key, Buffer.from("x")).ciphertext
    assert.strictEqual(
      failure(open(newCryptoKey(other), sealed, undefined)),
      `InvalidCiphertext: ciphertext failed authentication under ${other}: corrupted, or made by another key`
    )
    assert.strictEqual(
      failure(open(key, sealed, 2)),
      `InvalidCiphertext: key_id names version 2 of ${name}, but the ciphertext was not made with it`
    )
    assert.strictEqual(
      failure(open(key, sealed.subarray(0, minimumCiphertextLength - 1), undefined)),
      `InvalidCiphertext: ciphertext was not made by fake key ${name}`
    )
    const otherFormat = Buffer.from(sealed)
    otherFormat[0] = 2
    assert.strictEqual(failure(open(key, otherFormat, undefined)), `InvalidCiphertext: ciphertext was not made by fake key ${name}`)
    const unknownVersion = Buffer.from(sealed)
    unknownVersion.writeUInt32BE(7, 1)
    assert.strictEqual(failure(open(key, unknownVersion, undefined)), `InvalidCiphertext: ${name}/cryptoKeyVersions/7 does not exist`)
    const disabled = withVersionState(key, 1, "DISABLED") ?? key
    assert.strictEqual(
      failure(open(disabled, sealed, undefined)),
      `KeyUnusable: ${name}/cryptoKeyVersions/1 is DISABLED; enable it, or rotate to a new primary version`
    )
    assert.strictEqual(
      failure(sealWithPrimary(disabled, Buffer.from("y"))),
      `KeyUnusable: ${name}/cryptoKeyVersions/1 is DISABLED; enable it, or rotate to a new primary version`
    )
  })

  it("the smallest ciphertext that can open holds one byte", () => {
    const key = newCryptoKey(name)
    const sealed = seal(key, Buffer.from("z")).ciphertext
    assert.strictEqual(sealed.length, minimumCiphertextLength)
    assert.strictEqual(Result.getOrThrow(open(key, sealed, undefined)).toString(), "z")
  })

  it('the ciphertext is AES-256-GCM over "k8s-cloudkms-plugin fake kms|<key>|<version>" as associated data', () => {
    const key = newCryptoKey(name)
    const material = key.versions.get(1)?.material ?? new Uint8Array()
    const sealed = seal(key, Buffer.from("bound")).ciphertext
    // Opened independently, by the documented layout: header(5) nonce(12) sealed tag(16).
    const decipher = createDecipheriv("aes-256-gcm", material, sealed.subarray(5, 17))
    decipher.setAAD(Buffer.from(`k8s-cloudkms-plugin fake kms|${name}|1`))
    decipher.setAuthTag(sealed.subarray(sealed.length - 16))
    assert.strictEqual(Buffer.concat([decipher.update(sealed.subarray(17, sealed.length - 16)), decipher.final()]).toString(), "bound")
    // The same key material under another key name does not open it.
    const twin = { name: other, primary: 1, versions: new Map([[1, keyVersion(1, material, "ENABLED")]]) }
    assert.strictEqual(
      failure(open(twin, sealed, undefined)),
      `InvalidCiphertext: ciphertext failed authentication under ${other}: corrupted, or made by another key`
    )
  })
})
