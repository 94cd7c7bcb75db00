import { assert, describe, it } from "@effect/vitest"
import * as Option from "effect/Option"
import * as fc from "fast-check"
import { maxKeyIdBytes } from "../../src/grpc/KeyId.ts"
import {
  checkAnnotations,
  checkCiphertext,
  checkKeyId,
  checkPlaintext,
  checkV1Version,
  maxCiphertextBytes,
  maxPlaintextBytes,
  maxRequestMessageBytes
} from "../../src/grpc/RequestRules.ts"
import { configFrom } from "../support/config.ts"

// The request rules on their own: exact bounds and the messages operators read.

const keyUri = "projects/p1/locations/global/keyRings/r/cryptoKeys/k"
const config = configFrom({ keyUri: Option.some(keyUri), keySuffix: Option.some("s1") })

describe("request rules", () => {
  it("plaintext: 1 B to 64 KiB, exactly", () => {
    assert.strictEqual(checkPlaintext(new Uint8Array(0))?.message, "plaintext is empty")
    assert.isUndefined(checkPlaintext(new Uint8Array(1)))
    assert.isUndefined(checkPlaintext(new Uint8Array(maxPlaintextBytes)))
    assert.strictEqual(
      checkPlaintext(new Uint8Array(maxPlaintextBytes + 1))?.message,
      `plaintext is ${maxPlaintextBytes + 1} bytes; at most 65536 are accepted`
    )
    assert.strictEqual(checkPlaintext(new Uint8Array(0))?._tag, "InvalidRequest")
  })

  it("ciphertext: 1 B to 64 KiB + 1 KiB, exactly", () => {
    assert.strictEqual(maxCiphertextBytes, 65536 + 1024)
    assert.strictEqual(checkCiphertext(new Uint8Array(0))?.message, "ciphertext is empty")
    assert.isUndefined(checkCiphertext(new Uint8Array(1)))
    assert.isUndefined(checkCiphertext(new Uint8Array(maxCiphertextBytes)))
    assert.strictEqual(
      checkCiphertext(new Uint8Array(maxCiphertextBytes + 1))?.message,
      `ciphertext is ${maxCiphertextBytes + 1} bytes; at most ${maxCiphertextBytes} are accepted`
    )
  })

  it("the message size cap leaves room for the largest valid request, and not much more", () => {
    assert.isAbove(maxRequestMessageBytes, maxCiphertextBytes + maxKeyIdBytes + 100)
    assert.isBelow(maxRequestMessageBytes, 128 * 1024)
  })

  it("v1beta1 version: empty or v1beta1 only, any other is named (truncated)", () => {
    assert.isUndefined(checkV1Version(""))
    assert.isUndefined(checkV1Version("v1beta1"))
    assert.strictEqual(checkV1Version("v2")?.message, 'unsupported KMS API version "v2"; expected v1beta1')
    assert.strictEqual(checkV1Version("x".repeat(100))?.message, `unsupported KMS API version "${"x".repeat(32)}"; expected v1beta1`)
    fc.assert(
      fc.property(fc.string(), (version) => {
        assert.strictEqual(checkV1Version(version) === undefined, version === "" || version === "v1beta1")
      })
    )
  })

  it("annotations: none is fine, any is refused and the first one named (truncated)", () => {
    assert.isUndefined(checkAnnotations({}))
    assert.strictEqual(
      checkAnnotations({ "a.example.com": new Uint8Array(1) })?.message,
      'unexpected annotation "a.example.com": this plugin writes none, so the ciphertext was not made by it'
    )
    assert.include(checkAnnotations({ ["k".repeat(100)]: new Uint8Array(0) })?.message, `"${"k".repeat(64)}"`)
    assert.notInclude(checkAnnotations({ ["k".repeat(100)]: new Uint8Array(0) })?.message, "k".repeat(65))
  })

  it("key_id: empty, too long, malformed, unknown key, unknown suffix each have their message", () => {
    const good = `${keyUri}/cryptoKeyVersions/3`
    const message = (keyId: string) => {
      const result = checkKeyId(keyId, config)
      return "_tag" in result ? `${result._tag}: ${result.message}` : "ok"
    }
    assert.strictEqual(message(good), "ok")
    assert.strictEqual(message(`${good}:s1`), "ok")
    assert.strictEqual(message(""), "InvalidRequest: key_id is empty")
    assert.strictEqual(message(`${good}:${"s".repeat(maxKeyIdBytes)}`), `InvalidRequest: key_id is longer than ${maxKeyIdBytes} bytes`)
    assert.strictEqual(
      message("x".repeat(maxKeyIdBytes)),
      `InvalidRequest: malformed key_id "${"x".repeat(200)}": expected projects/…/cryptoKeys/K/cryptoKeyVersions/N[:suffix]`
    )
    assert.strictEqual(
      message(good.replace("cryptoKeys/k", "cryptoKeys/other")),
      "UnknownKey: key_id names projects/p1/locations/global/keyRings/r/cryptoKeys/other, which is neither --key-uri nor a --decrypt-key-uri"
    )
    assert.strictEqual(message(`${good}:s9`), 'UnknownKey: key_id suffix "s9" is neither --key-suffix nor a --decrypt-key-suffix')
    const parsed = checkKeyId(`${good}:s1`, config)
    assert.deepStrictEqual(parsed, { keyVersion: { cryptoKey: keyUri, version: 3 }, suffix: "s1" })
  })

  it("key_id length is counted in UTF-8 bytes, as the apiserver does", () => {
    // 512 two-byte characters: 1024 bytes is fine for the length rule; 513 is not.
    assert.notInclude(JSON.stringify(checkKeyId("é".repeat(512), config)), "longer than")
    assert.include(JSON.stringify(checkKeyId("é".repeat(513), config)), "longer than")
  })
})
