import { assert, describe, it } from "@effect/vitest"
import * as Result from "effect/Result"
import * as fc from "fast-check"
import { crc32cOf, verifyDecrypt, verifyEncrypt } from "../../../src/kms/cloud/Integrity.ts"

const key = "projects/p/locations/l/keyRings/r/cryptoKeys/k"
const version = `${key}/cryptoKeyVersions/2`

const encryptAnswer = (ciphertext: Uint8Array, overrides: Record<string, unknown> = {}) => ({
  name: version,
  ciphertext,
  ciphertextCrc32c: { value: String(crc32cOf(ciphertext)) },
  verifiedPlaintextCrc32c: true,
  ...overrides
})

const failureOf = <A>(result: Result.Result<A, { readonly check: string }>) =>
  Result.isFailure(result) ? result.failure.check : "accepted"

describe("integrity checks of Cloud KMS answers", () => {
  it('CRC32C is Castagnoli (check value of "123456789")', () => {
    assert.strictEqual(crc32cOf(Buffer.from("123456789")), 0xe3069283)
  })

  it("an intact Encrypt answer is accepted, for the version asked or any version of the key asked", () => {
    const ciphertext = new Uint8Array([1, 2, 3])
    assert.deepStrictEqual(verifyEncrypt(version)(encryptAnswer(ciphertext)), Result.succeed({ ciphertext, keyVersion: version }))
    assert.deepStrictEqual(verifyEncrypt(key)(encryptAnswer(ciphertext)), Result.succeed({ ciphertext, keyVersion: version }))
    // The CRC may come as a number or a Long-like object too.
    assert.isTrue(Result.isSuccess(verifyEncrypt(key)(encryptAnswer(ciphertext, { ciphertextCrc32c: { value: crc32cOf(ciphertext) } }))))
    assert.isTrue(
      Result.isSuccess(
        verifyEncrypt(key)(encryptAnswer(ciphertext, { ciphertextCrc32c: { value: { toString: () => String(crc32cOf(ciphertext)) } } }))
      )
    )
  })

  it("any change to the ciphertext, a missing or unverified checksum, or another resource name is refused", () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1, maxLength: 200 }), fc.nat(), (bytes, bit) => {
        const answer = encryptAnswer(bytes)
        const flipped = Uint8Array.from(bytes)
        const index = Math.floor(bit / 8) % flipped.length
        flipped[index] = (flipped[index] ?? 0) ^ (1 << (bit % 8))
        assert.strictEqual(failureOf(verifyEncrypt(version)({ ...answer, ciphertext: flipped })), "ciphertext CRC32C")
      })
    )
    const ciphertext = new Uint8Array([9])
    assert.strictEqual(failureOf(verifyEncrypt(version)(encryptAnswer(ciphertext, { ciphertextCrc32c: null }))), "ciphertext CRC32C")
    assert.strictEqual(
      failureOf(verifyEncrypt(version)(encryptAnswer(ciphertext, { verifiedPlaintextCrc32c: false }))),
      "plaintext CRC32C verification"
    )
    assert.strictEqual(failureOf(verifyEncrypt(version)(encryptAnswer(new Uint8Array(0)))), "ciphertext presence")
    assert.strictEqual(failureOf(verifyEncrypt(version)(encryptAnswer(ciphertext, { ciphertext: "base64text" }))), "ciphertext presence")
    assert.include(failureOf(verifyEncrypt(version)(encryptAnswer(ciphertext, { name: `${key}/cryptoKeyVersions/3` }))), "resource name")
    assert.include(failureOf(verifyEncrypt(key)(encryptAnswer(ciphertext, { name: `${key}-other/cryptoKeyVersions/2` }))), "resource name")
    assert.include(failureOf(verifyEncrypt(key)(encryptAnswer(ciphertext, { name: key }))), "resource name")
    assert.include(failureOf(verifyEncrypt(key)(encryptAnswer(ciphertext, { name: null }))), "resource name")
  })

  it("Decrypt answers: the plaintext's CRC32C must match", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (plaintext) => {
        const answer = { plaintext, plaintextCrc32c: { value: String(crc32cOf(plaintext)) } }
        assert.deepStrictEqual(verifyDecrypt(answer), Result.succeed(plaintext))
        if (plaintext.length > 0) {
          const changed = Uint8Array.from(plaintext)
          changed[0] = (changed[0] ?? 0) ^ 0x80
          assert.strictEqual(failureOf(verifyDecrypt({ ...answer, plaintext: changed })), "plaintext CRC32C")
        }
      })
    )
    assert.strictEqual(failureOf(verifyDecrypt({ plaintext: null })), "plaintext presence")
    assert.strictEqual(
      failureOf(verifyDecrypt({ plaintext: new Uint8Array([1]), plaintextCrc32c: { value: "not a number" } })),
      "plaintext CRC32C"
    )
  })

  it("a checksum is read only from plain decimal digits (string or Long-like text) or a number; anything else is a mismatch", () => {
    const ciphertext = new Uint8Array([1, 2, 3])
    const crc = String(crc32cOf(ciphertext))
    const withCrc = (value: unknown) => failureOf(verifyEncrypt(version)(encryptAnswer(ciphertext, { ciphertextCrc32c: { value } })))
    assert.strictEqual(withCrc(crc), "accepted")
    assert.strictEqual(withCrc(Number(crc)), "accepted")
    assert.strictEqual(withCrc({ toString: () => crc }), "accepted")
    // A Long-like value is read by its decimal text, not by valueOf.
    assert.strictEqual(withCrc({ toString: () => crc, valueOf: () => 0 }), "accepted")
    for (const text of [` ${crc}`, `${crc} `, `${crc}\n`, `+${crc}`, `0x${Number(crc).toString(16)}`, `${crc}.0`, `${crc}e0`, ""]) {
      assert.strictEqual(withCrc(text), "ciphertext CRC32C", JSON.stringify(text))
      assert.strictEqual(withCrc({ toString: () => text }), "ciphertext CRC32C", `Long-like ${JSON.stringify(text)}`)
    }
    for (const value of [null, undefined, true]) assert.strictEqual(withCrc(value), "ciphertext CRC32C", String(value))
    assert.strictEqual(failureOf(verifyEncrypt(version)(encryptAnswer(ciphertext, { ciphertextCrc32c: undefined }))), "ciphertext CRC32C")
  })

  it('an answer without a name says it answered ""', () => {
    for (const name of [null, undefined]) {
      assert.strictEqual(
        failureOf(verifyEncrypt(key)(encryptAnswer(new Uint8Array([1]), { name }))),
        `resource name (asked ${key}, answered "")`
      )
    }
  })
})
