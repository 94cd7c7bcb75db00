import * as fc from "fast-check"
import { maxCiphertextBytes } from "../../../src/grpc/RequestRules.ts"
import { oldKeyUri } from "../../support/InProcessPlugin.ts"
import { concat, patternBytes } from "./protobuf.ts"

// Near misses: key_ids and ciphertexts that are small edits of real ones,
// the inputs most likely to slip through a check.

type Edit<A> = (value: A) => A

const at = (text: string, position: number): number => (text.length === 0 ? 0 : position % (text.length + 1))

const oddChars = [
  "\u0000",
  "\u200b",
  "\u202e",
  "\ufeff",
  "\u0435",
  /* Cyrillic e */ "\uff0f",
  /* fullwidth / */ "\uff13" /* fullwidth 3 */,
  "\u00e9",
  "e\u0301",
  "\ud800",
  "\udfff",
  "\u{1f600}",
  "\n",
  "\r\n",
  " ",
  "\t",
  "%2F",
  "%00",
  "\\",
  "..",
  "*",
  "?"
]

const versionDigits = [
  "0",
  "01",
  "001",
  "4",
  "99",
  "-1",
  "+1",
  "1e3",
  "0x3",
  " 3",
  "3 ",
  "\uff13",
  "1.0",
  "999999999999999999",
  "9999999999999999999",
  "9007199254740993",
  "18446744073709551617"
]

const suffixes = [
  "",
  ":",
  "::",
  ":s1",
  ":s0",
  ":S1",
  ":s2",
  ":s1:s1",
  ":s1:",
  ": s1",
  ":s1 ",
  ":s1\u0000",
  ":s\u0131",
  `:${"a".repeat(64)}`,
  `:${"a".repeat(65)}`,
  ":\u00e9",
  ":../s1",
  ":s1/x"
]

const keyNameSwaps: ReadonlyArray<readonly [string, string]> = [
  ["test-key", "old-key"],
  ["test-key", "test-key2"],
  ["test-key", "Test-key"],
  ["test-key", "test-key/cryptoKeys/test-key"],
  ["global", "us-east1"],
  ["test-project", "test-project2"],
  ["projects/", "Projects/"],
  ["cryptoKeyVersions", "cryptokeyversions"],
  ["keyRings/test-ring", "keyRings/test-ring/keyRings/test-ring"],
  ["projects/test-project/locations/global/keyRings/test-ring/cryptoKeys/test-key", oldKeyUri]
]

/** One edit of a key_id string. */
export const keyIdEdit: fc.Arbitrary<Edit<string>> = fc.oneof(
  fc.nat().map(
    (n): Edit<string> =>
      (k) =>
        k.slice(0, at(k, n))
  ),
  fc.string({ maxLength: 12 }).map(
    (s): Edit<string> =>
      (k) =>
        k + s
  ),
  fc.tuple(fc.nat(), fc.string({ unit: "binary", maxLength: 4 })).map(
    ([n, s]): Edit<string> =>
      (k) =>
        k.slice(0, at(k, n)) + s + k.slice(at(k, n))
  ),
  fc.tuple(fc.nat(), fc.constantFrom(...oddChars)).map(
    ([n, c]): Edit<string> =>
      (k) =>
        k.slice(0, at(k, n)) + c + k.slice(at(k, n))
  ),
  fc.tuple(fc.nat(), fc.constantFrom(...oddChars)).map(
    ([n, c]): Edit<string> =>
      (k) =>
        k.slice(0, at(k, n)) + c + k.slice(at(k, n) + 1)
  ),
  fc.constantFrom(...versionDigits).map(
    (digits): Edit<string> =>
      (k) =>
        k.replace(/(cryptoKeyVersions\/)[^:]*/, `$1${digits}`)
  ),
  fc.integer({ min: 1, max: 5 }).map(
    (v): Edit<string> =>
      (k) =>
        k.replace(/(cryptoKeyVersions\/)\d+/, `$1${v}`)
  ),
  fc.constantFrom(...suffixes).map(
    (suffix): Edit<string> =>
      (k) =>
        k.replace(/(\/cryptoKeyVersions\/[^:]*)(:.*)?$/, `$1${suffix}`)
  ),
  fc.constantFrom(...keyNameSwaps).map(
    ([from, to]): Edit<string> =>
      (k) =>
        k.replace(from, to)
  ),
  fc.tuple(fc.nat(), fc.nat({ max: 8 })).map(
    ([n, len]): Edit<string> =>
      (k) =>
        k.slice(0, at(k, n)) + k.slice(at(k, n), at(k, n) + len).toUpperCase() + k.slice(at(k, n) + len)
  ),
  fc.nat().map(
    (n): Edit<string> =>
      (k) => {
        const slashes = [...k.matchAll(/\//g)].map((m) => m.index)
        const index = slashes.length === 0 ? 0 : (slashes[n % slashes.length] ?? 0)
        return `${k.slice(0, index)}/${k.slice(index)}`
      }
  ),
  fc.constant<Edit<string>>((k) => `/${k}`),
  fc.constant<Edit<string>>((k) => `${k}/`),
  fc.constant<Edit<string>>((k) => k.replace(/[/:]/g, (c) => encodeURIComponent(c))),
  fc.constant<Edit<string>>((k) => k.repeat(2))
)

/** One to three edits of `keyId`. */
export const mutatedKeyId = (keyId: string): fc.Arbitrary<string> =>
  fc.array(keyIdEdit, { minLength: 1, maxLength: 3 }).map((edits) => edits.reduce((k, edit) => edit(k), keyId))

/** key_ids at and around the size limit, in one- and two-byte characters, and a valid prefix stretched to it. */
export const sizedKeyId = (validKeyId: string): fc.Arbitrary<string> =>
  fc.constantFrom(
    "",
    "a",
    "a".repeat(1024),
    "a".repeat(1025),
    "\u00e9".repeat(512),
    "\u00e9".repeat(513),
    `${validKeyId}:${"a".repeat(1024 - validKeyId.length - 1)}`,
    `${validKeyId}:${"a".repeat(1025 - validKeyId.length - 1)}`,
    validKeyId + "0".repeat(1024 - validKeyId.length),
    "a".repeat(64 * 1024)
  )

type BytesEdit = (bytes: Uint8Array) => Uint8Array

const flipBits =
  (bits: ReadonlyArray<number>): BytesEdit =>
  (bytes) => {
    const copy = Uint8Array.from(bytes)
    if (copy.length === 0) return copy
    for (const bit of bits) {
      const index = Math.floor(bit / 8) % copy.length
      copy[index] = (copy[index] ?? 0) ^ (1 << (bit % 8))
    }
    return copy
  }

/** One edit of a ciphertext; `others` are other real ciphertexts to splice in. */
export const ciphertextEdit = (others: ReadonlyArray<Uint8Array>): fc.Arbitrary<BytesEdit> =>
  fc.oneof(
    { weight: 4, arbitrary: fc.array(fc.nat(), { minLength: 1, maxLength: 4 }).map(flipBits) },
    {
      weight: 2,
      arbitrary: fc.nat().map(
        (n): BytesEdit =>
          (b) =>
            b.subarray(0, n % (b.length + 1))
      )
    },
    {
      weight: 1,
      arbitrary: fc.nat().map(
        (n): BytesEdit =>
          (b) =>
            b.subarray(n % (b.length + 1))
      )
    },
    {
      weight: 2,
      arbitrary: fc.uint8Array({ minLength: 1, maxLength: 32 }).map(
        (extra): BytesEdit =>
          (b) =>
            concat([b, extra])
      )
    },
    {
      weight: 2,
      arbitrary: fc.tuple(fc.constantFrom(...others), fc.nat(), fc.nat()).map(
        ([other, i, j]): BytesEdit =>
          (b) =>
            concat([b.subarray(0, i % (b.length + 1)), other.subarray(j % (other.length + 1))])
      )
    },
    {
      // Another ciphertext's tag, or its nonce (bytes 5..17 of the fake format).
      weight: 1,
      arbitrary: fc.tuple(fc.constantFrom(...others), fc.boolean()).map(
        ([other, tag]): BytesEdit =>
          (b) => {
            const copy = Uint8Array.from(b)
            if (tag && b.length >= 16 && other.length >= 16) copy.set(other.subarray(other.length - 16), b.length - 16)
            if (!tag && b.length >= 17 && other.length >= 17) copy.set(other.subarray(5, 17), 5)
            return copy
          }
      )
    },
    {
      weight: 1,
      arbitrary: fc.tuple(fc.nat({ max: 4 }), fc.integer({ min: 0, max: 0xffffffff })).map(
        ([index, value]): BytesEdit =>
          (b) => {
            const copy = Uint8Array.from(b)
            if (copy.length >= 5) Buffer.from(copy.buffer, copy.byteOffset, copy.byteLength).writeUInt32BE(value, 1)
            else if (copy.length > index) copy[index] = value & 255
            return copy
          }
      )
    },
    { weight: 1, arbitrary: fc.constant<BytesEdit>((b) => concat([b, b])) }
  )

/** One or two edits of a real ciphertext. */
export const mutatedCiphertext = (ciphertext: Uint8Array, others: ReadonlyArray<Uint8Array>): fc.Arbitrary<Uint8Array> =>
  fc.array(ciphertextEdit(others), { minLength: 1, maxLength: 2 }).map((edits) => edits.reduce((b, edit) => edit(b), ciphertext))

/** Deterministic filler of one of `sizes`, for sizes fast-check should not build byte by byte. */
export const sizedBytes = (sizes: ReadonlyArray<number>): fc.Arbitrary<Uint8Array> =>
  fc.tuple(fc.constantFrom(...sizes), fc.integer()).map(([size, seed]) => patternBytes(size, seed))

/** Ciphertexts at the size limits (never valid: the plugin made none of these). */
export const sizedCiphertext: fc.Arbitrary<Uint8Array> = sizedBytes([
  0,
  1,
  33,
  34,
  maxCiphertextBytes - 1,
  maxCiphertextBytes,
  maxCiphertextBytes + 1
])

/** Shaped like the fake backend's format (format byte 1, a version) so it gets past the first checks. */
export const fakeFormatCiphertext: fc.Arbitrary<Uint8Array> = fc
  .tuple(fc.oneof(fc.integer({ min: 0, max: 5 }), fc.integer({ min: 0, max: 0xffffffff })), fc.uint8Array({ minLength: 0, maxLength: 80 }))
  .map(([version, rest]) => {
    const header = Buffer.alloc(5)
    header.writeUInt8(1, 0)
    header.writeUInt32BE(version, 1)
    return concat([header, rest])
  })
