import { crc32c as reference } from "@aws-crypto/crc32c"
import { assert, describe, it } from "@effect/vitest"
import * as fc from "fast-check"
import { crc32c } from "../../../src/kms/cloud/Crc32c.ts"

// Our slicing-by-8 CRC32C against a kept implementation (@aws-crypto/crc32c,
// byte at a time) over every length class: under 8 bytes, whole 8-byte
// blocks, blocks plus a tail, up to Cloud KMS's 64 KiB; at any offset in a
// larger buffer (a Buffer from a pool starts anywhere).

describe("CRC32C", () => {
  it("gives the standard check value and the empty input's", () => {
    assert.strictEqual(crc32c(Buffer.from("123456789")), 0xe3069283)
    assert.strictEqual(crc32c(new Uint8Array(0)), 0)
    assert.strictEqual(crc32c(new Uint8Array(32)), 0x8a9136aa)
  })

  it("property: equals the reference on any bytes of any length", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => crc32c(bytes) === reference(bytes)),
      { numRuns: 500 }
    )
  })

  it("property: equals the reference on a view at any offset of a larger buffer", () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1, maxLength: 200 }), fc.nat(), fc.nat(), (bytes, a, b) => {
        const start = a % bytes.length
        const end = start + (b % (bytes.length - start + 1))
        const view = bytes.subarray(start, end)
        return crc32c(view) === reference(view)
      }),
      { numRuns: 300 }
    )
  })

  it("equals the reference on the largest plaintext (64 KiB)", () => {
    const bytes = Uint8Array.from({ length: 65536 }, (_, i) => (i * 2654435761) >>> 24)
    assert.strictEqual(crc32c(bytes), reference(bytes))
  })
})
