import { status } from "@grpc/grpc-js"
import * as fc from "fast-check"
import { maxCiphertextBytes, maxPlaintextBytes, maxRequestMessageBytes } from "../../../src/grpc/RequestRules.ts"
import { fakeFormatCiphertext, mutatedCiphertext, mutatedKeyId, sizedBytes, sizedCiphertext, sizedKeyId } from "./mutations.ts"
import { acceptableKeyIds, findEntry, type Pool, type PoolEntry } from "./pool.ts"
import {
  bytesEqual,
  concat,
  contains,
  decodeLenFields,
  encodeField,
  encodeMessage,
  lastBytes,
  lastText,
  len,
  maxFieldNumber,
  padTo,
  patternBytes,
  tag,
  utf8,
  varint,
  type WireField,
  WireType
} from "./protobuf.ts"
import type { Outcome, RawClient } from "./rawGrpc.ts"

// Requests for every RPC of both APIs, as protobuf bytes, each with what the
// plugin must answer:
// - well-formed: arbitrary field values, unknown fields, repeated scalars
//   (the last one wins), fields in any order; the answer is predicted exactly
//   from the values the plugin will decode;
// - malformed: the same, then broken at the wire level (wrong wire types,
//   truncations, lengths past the end, invalid varints and wire types, deep
//   groups, invalid UTF-8, flipped bytes); any refusal is fine, but never
//   UNKNOWN, and an OK must still be correct;
// - random bytes; and sizes at the limits.

export type Method = "v2.Status" | "v2.Encrypt" | "v2.Decrypt" | "v1beta1.Version" | "v1beta1.Encrypt" | "v1beta1.Decrypt"

export const methods: ReadonlyArray<Method> = [
  "v2.Status",
  "v2.Encrypt",
  "v2.Decrypt",
  "v1beta1.Version",
  "v1beta1.Encrypt",
  "v1beta1.Decrypt"
]

export const pathOf = (method: Method): string => `/${method.replace(".", ".KeyManagementService/")}`

const methodOfPath = new Map(methods.map((method) => [pathOf(method), method]))

/** Paths no service implements: near misses of the real ones, and others. */
export const unknownPaths: ReadonlyArray<string> = [
  "/v2.KeyManagementService/status",
  "/v2.KeyManagementService/Status/",
  "/v2.KeyManagementService/Version",
  "/v2.KeyManagementService/",
  "/v1beta1.KeyManagementService/Status",
  "/v2beta1.KeyManagementService/Status",
  "/v3.KeyManagementService/Encrypt",
  "/KeyManagementService/Decrypt",
  "/v2.keymanagementservice/Encrypt",
  "//v2.KeyManagementService/Status",
  "/v2.KeyManagementService/Status?x=1",
  "/v2.KeyManagementService/Encrypt%00",
  "/grpc.health.v1.Health/Check",
  "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
  "/"
  // Not "*": HTTP/2 refuses it for POST (RST_STREAM PROTOCOL_ERROR) before gRPC sees it.
]

export const unknownPath: fc.Arbitrary<string> = fc
  .oneof(
    { weight: 3, arbitrary: fc.constantFrom(...unknownPaths) },
    {
      weight: 1,
      arbitrary: fc
        .string({ unit: fc.integer({ min: 0x21, max: 0x7e }).map((c) => String.fromCharCode(c)), maxLength: 60 })
        .map((p) => `/${p}`)
    }
  )
  .filter((path) => !methodOfPath.has(path))

// ---------------------------------------------------------------------------
// Request values. Strings travel as their UTF-8 bytes, so they can be invalid.

type Bytes = Uint8Array

export type Semantic =
  | { readonly method: "v2.Status" }
  | { readonly method: "v2.Encrypt"; readonly plaintext: Bytes; readonly uid: Bytes }
  | {
      readonly method: "v2.Decrypt"
      readonly ciphertext: Bytes
      readonly uid: Bytes
      readonly keyId: Bytes
      /** Encoded AnnotationsEntry messages; any entry at all makes the request invalid. */
      readonly annotations: ReadonlyArray<Bytes>
    }
  | { readonly method: "v1beta1.Version"; readonly version: Bytes }
  | { readonly method: "v1beta1.Encrypt"; readonly version: Bytes; readonly plain: Bytes }
  | { readonly method: "v1beta1.Decrypt"; readonly version: Bytes; readonly cipher: Bytes }

/** The scalar fields of a request, by number, and its repeated map entries (field 4 of v2 Decrypt). */
const scalarFields = (s: Semantic): ReadonlyArray<readonly [number, Bytes]> => {
  switch (s.method) {
    case "v2.Status":
      return []
    case "v2.Encrypt":
      return [
        [1, s.plaintext],
        [2, s.uid]
      ]
    case "v2.Decrypt":
      return [
        [1, s.ciphertext],
        [2, s.uid],
        [3, s.keyId]
      ]
    case "v1beta1.Version":
      return [[1, s.version]]
    case "v1beta1.Encrypt":
      return [
        [1, s.version],
        [2, s.plain]
      ]
    case "v1beta1.Decrypt":
      return [
        [1, s.version],
        [2, s.cipher]
      ]
  }
}

/** Field numbers at or below this are known to the method's request message. */
const highestKnownField = (method: Method): number =>
  method === "v2.Status" ? 0 : method === "v2.Decrypt" ? 4 : method === "v1beta1.Version" ? 1 : 2

const strictUtf8 = new TextDecoder("utf-8", { fatal: true })

/** The string protobufjs will hand the plugin, or undefined if the bytes are not UTF-8. */
const textOf = (bytes: Bytes): string | undefined => {
  try {
    return strictUtf8.decode(bytes)
  } catch {
    return undefined
  }
}

// ---------------------------------------------------------------------------
// What the plugin must answer.

export type Expect =
  /** Exactly OK; Decrypt must return `plaintext`, Encrypt must round-trip `plaintext`. */
  | { readonly kind: "ok"; readonly plaintext: Bytes | undefined }
  | { readonly kind: "code"; readonly code: status }
  /** A refusal, with one of these codes. */
  | { readonly kind: "refused"; readonly codes: ReadonlyArray<status> }
  /** Malformed: any code the method may answer; an OK is still checked for content. */
  | { readonly kind: "any" }

export interface FuzzCase {
  /** Category, for the summary. */
  readonly label: string
  readonly path: string
  readonly message: Bytes
  readonly expect: Expect
  /** Invalid UTF-8 in a string: grpc-js may refuse the message as undecodable. */
  readonly undecodableAllowed: boolean
}

const ok = (plaintext?: Bytes): Expect => ({ kind: "ok", plaintext })
const invalid: Expect = { kind: "code", code: status.INVALID_ARGUMENT }

const sizeOk = (bytes: Bytes, max: number) => bytes.length >= 1 && bytes.length <= max
const v1VersionOk = (version: Bytes) => version.length === 0 || textOf(version) === "v1beta1"

/** The answer predicted from the values the plugin decodes. */
export const expectOf = (s: Semantic, pool: Pool): Expect => {
  const decrypted = (entry: PoolEntry | undefined, keyIdOk: boolean): Expect => {
    if (entry === undefined || !keyIdOk) return { kind: "refused", codes: [status.INVALID_ARGUMENT, status.FAILED_PRECONDITION] }
    return entry.disabled ? { kind: "code", code: status.FAILED_PRECONDITION } : ok(entry.plaintext)
  }
  switch (s.method) {
    case "v2.Status":
    case "v1beta1.Version":
      return ok()
    case "v2.Encrypt":
      return sizeOk(s.plaintext, maxPlaintextBytes) ? ok(s.plaintext) : invalid
    case "v1beta1.Encrypt":
      return v1VersionOk(s.version) && sizeOk(s.plain, maxPlaintextBytes) ? ok(s.plain) : invalid
    case "v2.Decrypt": {
      if (!sizeOk(s.ciphertext, maxCiphertextBytes) || s.annotations.length > 0) return invalid
      const entry = findEntry(pool, s.ciphertext)
      const keyId = textOf(s.keyId)
      return decrypted(entry, entry !== undefined && keyId !== undefined && acceptableKeyIds(entry.version).includes(keyId))
    }
    case "v1beta1.Decrypt":
      if (!v1VersionOk(s.version) || !sizeOk(s.cipher, maxCiphertextBytes)) return invalid
      return decrypted(findEntry(pool, s.cipher), true)
  }
}

// ---------------------------------------------------------------------------
// Field values.

const asciiText = fc.string({ unit: "grapheme-ascii", maxLength: 40 }).map(utf8)

const uid: fc.Arbitrary<Bytes> = fc.oneof(
  { weight: 3, arbitrary: fc.constant(new Uint8Array(0)) },
  { weight: 3, arbitrary: fc.uuid().map(utf8) },
  { weight: 2, arbitrary: fc.string({ unit: "binary", maxLength: 40 }).map(utf8) },
  { weight: 1, arbitrary: sizedBytes([1024, 4096]).map((b) => utf8(Buffer.from(b).toString("base64"))) }
)

const plaintext: fc.Arbitrary<Bytes> = fc.oneof(
  { weight: 4, arbitrary: fc.uint8Array({ maxLength: 64 }) },
  { weight: 2, arbitrary: sizedBytes([0, 1, 2, 32, maxPlaintextBytes - 1, maxPlaintextBytes, maxPlaintextBytes + 1]) }
)

const v1Version: fc.Arbitrary<Bytes> = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom("", "v1beta1").map(utf8) },
  {
    weight: 2,
    arbitrary: fc.constantFrom("v1", "v2", "V1BETA1", "v1beta1 ", " v1beta1", "v1beta1\u0000", "v1beta2", "v1beta1\n", "v1beta").map(utf8)
  },
  { weight: 1, arbitrary: fc.string({ unit: "binary", maxLength: 20 }).map(utf8) }
)

const annotationKey: fc.Arbitrary<Bytes> = fc.oneof(
  fc.domain().map(utf8),
  fc.constantFrom("", "a.example.com", "__proto__", "constructor", "toString", "kms.example.io/remote-kms-auditid", ".", "a..b").map(utf8),
  fc.string({ unit: "binary", maxLength: 30 }).map(utf8),
  sizedBytes([253, 254, 4096]).map((b) => utf8(Buffer.from(b).toString("hex")))
)

const annotationValue: fc.Arbitrary<Bytes> = fc.oneof(
  { weight: 4, arbitrary: fc.uint8Array({ maxLength: 32 }) },
  { weight: 1, arbitrary: sizedBytes([0, 32 * 1024, 60 * 1024]) }
)

/** An AnnotationsEntry message: key and value (either may be missing or repeated), maybe unknown fields. */
const annotationEntry: fc.Arbitrary<Bytes> = fc
  .record({
    key: fc.option(annotationKey, { nil: undefined }),
    value: fc.option(annotationValue, { nil: undefined }),
    repeatKey: fc.boolean(),
    unknown: fc.array(
      fc.constantFrom<WireField>(
        { type: "varint", field: 3, value: 7n },
        { type: "len", field: 9, value: utf8("x") },
        { type: "i32", field: 5, value: 1 }
      ),
      { maxLength: 2 }
    )
  })
  .map(({ key, repeatKey, unknown, value }) => {
    const fields: Array<WireField> = [...unknown]
    if (key !== undefined) fields.push(...(repeatKey ? [len(1, utf8("first.example.com")), len(1, key)] : [len(1, key)]))
    if (value !== undefined) fields.push(len(2, value))
    return encodeMessage(fields)
  })

const annotations: fc.Arbitrary<ReadonlyArray<Bytes>> = fc.oneof(
  { weight: 6, arbitrary: fc.constant([]) },
  { weight: 3, arbitrary: fc.array(annotationEntry, { minLength: 1, maxLength: 5 }) },
  {
    // Many entries: distinct FQDNs, or one empty key over and over.
    weight: 1,
    arbitrary: fc
      .tuple(fc.integer({ min: 100, max: 6000 }), fc.boolean())
      .map(([n, same]) =>
        Array.from({ length: n }, (_, i) => encodeMessage([len(1, utf8(same ? "" : `k${i}.example.com`)), len(2, Uint8Array.of(i & 255))]))
      )
  }
)

const poolIndex = (pool: Pool) => fc.nat({ max: pool.entries.length - 1 })

const ciphertextFor = (pool: Pool, entry: PoolEntry): fc.Arbitrary<Bytes> => {
  const all = pool.entries.map((e) => e.ciphertext)
  return fc.oneof(
    { weight: 5, arbitrary: fc.constant(entry.ciphertext) },
    { weight: 1, arbitrary: fc.constantFrom(...all) },
    { weight: 3, arbitrary: mutatedCiphertext(entry.ciphertext, all) },
    { weight: 1, arbitrary: sizedCiphertext },
    { weight: 1, arbitrary: fakeFormatCiphertext },
    { weight: 1, arbitrary: fc.uint8Array({ maxLength: 128 }) }
  )
}

const keyIdFor = (pool: Pool, entry: PoolEntry): fc.Arbitrary<Bytes> =>
  fc
    .oneof(
      { weight: 5, arbitrary: fc.constantFrom(...acceptableKeyIds(entry.version)) },
      { weight: 1, arbitrary: fc.constantFrom(...pool.versions.flatMap(acceptableKeyIds)) },
      { weight: 3, arbitrary: mutatedKeyId(entry.keyId) },
      { weight: 1, arbitrary: sizedKeyId(entry.keyId) },
      { weight: 1, arbitrary: fc.string({ unit: "binary", maxLength: 80 }) }
    )
    .map(utf8)

export const semanticRequest = (pool: Pool, method: Method): fc.Arbitrary<Semantic> => {
  switch (method) {
    case "v2.Status":
      return fc.constant({ method })
    case "v2.Encrypt":
      return fc.record({ method: fc.constant(method), plaintext, uid })
    case "v1beta1.Version":
      return fc.record({ method: fc.constant(method), version: v1Version })
    case "v1beta1.Encrypt":
      return fc.record({ method: fc.constant(method), version: v1Version, plain: plaintext })
    case "v2.Decrypt":
      return poolIndex(pool).chain((i) => {
        const entry = pool.entries[i] as PoolEntry
        return fc.record({
          method: fc.constant(method),
          ciphertext: ciphertextFor(pool, entry),
          uid,
          keyId: keyIdFor(pool, entry),
          annotations
        })
      })
    case "v1beta1.Decrypt":
      return poolIndex(pool).chain((i) =>
        fc.record({ method: fc.constant(method), version: v1Version, cipher: ciphertextFor(pool, pool.entries[i] as PoolEntry) })
      )
  }
}

// ---------------------------------------------------------------------------
// Well-formed encodings with noise: unknown fields (any wire type, nested
// groups), earlier occurrences of a scalar field that the last one overrides,
// explicit empty fields, any field order.

const unknownFieldNumber = (method: Method) =>
  fc.oneof(
    fc.integer({ min: highestKnownField(method) + 1, max: 40 }),
    fc.integer({ min: highestKnownField(method) + 1, max: maxFieldNumber })
  )

const unknownField = (method: Method, depth: number): fc.Arbitrary<WireField> => {
  const number = unknownFieldNumber(method)
  const leaves: Array<fc.Arbitrary<WireField>> = [
    fc.record({ type: fc.constant("varint" as const), field: number, value: fc.bigInt({ min: -(2n ** 63n), max: 2n ** 64n - 1n }) }),
    fc.record({ type: fc.constant("i64" as const), field: number, value: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }) }),
    fc.record({ type: fc.constant("i32" as const), field: number, value: fc.integer({ min: 0, max: 0xffffffff }) }),
    fc.record({ type: fc.constant("len" as const), field: number, value: fc.uint8Array({ maxLength: 40 }) })
  ]
  if (depth === 0) return fc.oneof(...leaves)
  return fc.oneof(
    ...leaves,
    fc.record({ type: fc.constant("group" as const), field: number, fields: fc.array(unknownField(method, depth - 1), { maxLength: 3 }) })
  )
}

interface Noise {
  readonly unknown: ReadonlyArray<WireField>
  /** Earlier values of each scalar field, overridden by the real (last) one. */
  readonly decoys: ReadonlyArray<ReadonlyArray<Bytes>>
  readonly explicitEmpty: boolean
  readonly order: number
}

const noise = (method: Method): fc.Arbitrary<Noise> =>
  fc.record({
    unknown: fc.oneof(
      { weight: 2, arbitrary: fc.constant([]) },
      { weight: 3, arbitrary: fc.array(unknownField(method, 2), { maxLength: 6 }) }
    ),
    decoys: fc.oneof(
      { weight: 2, arbitrary: fc.constant([]) },
      { weight: 1, arbitrary: fc.array(fc.array(asciiText, { maxLength: 2 }), { maxLength: 3 }) }
    ),
    explicitEmpty: fc.boolean(),
    order: fc.integer()
  })

/** Fisher-Yates with a tiny seeded generator: the field order is part of the case. */
const shuffle = <A>(items: ReadonlyArray<A>, seed: number): Array<A> => {
  const out = [...items]
  let x = seed | 1
  for (let i = out.length - 1; i > 0; i--) {
    x ^= x << 13
    x ^= x >>> 17
    x ^= x << 5
    const j = (x >>> 0) % (i + 1)
    const tmp = out[i] as A
    out[i] = out[j] as A
    out[j] = tmp
  }
  return out
}

/** The request's fields (with noise) in wire order; decoding them gives back `s`. */
export const wireFields = (s: Semantic, n: Noise): Array<WireField> => {
  type Item = { readonly scalar: number } | { readonly field: WireField }
  const scalars = scalarFields(s)
  const values = new Map<number, Array<Bytes>>()
  const items: Array<Item> = []
  scalars.forEach(([number, value], index) => {
    const decoys = n.decoys[index] ?? []
    if (value.length === 0 && decoys.length === 0 && !n.explicitEmpty) return
    values.set(number, [...decoys, value])
    for (let k = 0; k <= decoys.length; k++) items.push({ scalar: number })
  })
  if (s.method === "v2.Decrypt") for (const entry of s.annotations) items.push({ field: len(4, entry) })
  for (const field of n.unknown) items.push({ field })
  // Whatever the order, each scalar field's values go out in order, the real one last.
  return shuffle(items, n.order).map((item) =>
    "field" in item ? item.field : len(item.scalar, values.get(item.scalar)?.shift() ?? new Uint8Array(0))
  )
}

export const wellFormedCase = (pool: Pool): fc.Arbitrary<FuzzCase> =>
  fc.constantFrom(...methods).chain((method) =>
    fc.tuple(semanticRequest(pool, method), noise(method)).map(
      ([s, n]): FuzzCase => ({
        label: `${method} well-formed`,
        path: pathOf(method),
        message: encodeMessage(wireFields(s, n)),
        expect: expectOf(s, pool),
        undecodableAllowed: false
      })
    )
  )

// ---------------------------------------------------------------------------
// Malformed encodings.

type WireEdit = (bytes: Bytes) => Bytes

const insertAt = (bytes: Bytes, position: number, inserted: Bytes): Bytes => {
  const at = position % (bytes.length + 1)
  return concat([bytes.subarray(0, at), inserted, bytes.subarray(at)])
}

const repeated = (unit: Bytes, times: number): Bytes => {
  const out = new Uint8Array(unit.length * times)
  for (let i = 0; i < times; i++) out.set(unit, i * unit.length)
  return out
}

const anyField = fc.oneof(fc.integer({ min: 0, max: 6 }), fc.integer({ min: 0, max: maxFieldNumber }))

const invalidUtf8 = fc
  .constantFrom(
    [0xff],
    [0xc0, 0xaf], // overlong "/"
    [0xe0, 0x80, 0xaf],
    [0xed, 0xa0, 0x80], // a surrogate
    [0xc3], // truncated two-byte sequence
    [0xf4, 0x90, 0x80, 0x80], // above U+10FFFF
    [0x80]
  )
  .map((b) => Uint8Array.from(b))

const wireEdit: fc.Arbitrary<WireEdit> = fc.oneof(
  // Cut anywhere.
  fc.nat().map(
    (n): WireEdit =>
      (b) =>
        b.subarray(0, n % (b.length + 1))
  ),
  // A varint that never ends (continuation bits to the end of the message).
  fc.tuple(anyField, fc.integer({ min: 1, max: 12 })).map(
    ([field, k]): WireEdit =>
      (b) =>
        concat([b, tag(field, WireType.varint), new Uint8Array(k).fill(0xff)])
  ),
  // A varint longer than ten bytes.
  fc.tuple(fc.nat(), anyField, fc.integer({ min: 11, max: 20 })).map(
    ([p, field, k]): WireEdit =>
      (b) =>
        insertAt(b, p, concat([tag(field, WireType.varint), new Uint8Array(k - 1).fill(0x80), Uint8Array.of(1)]))
  ),
  // A length prefix past the end of the message (up to 2^64).
  fc.tuple(fc.constantFrom(1, 2, 3, 4, 9), fc.bigInt({ min: 1n, max: 2n ** 64n - 1n }), fc.uint8Array({ maxLength: 16 })).map(
    ([field, extra, content]): WireEdit =>
      (b) =>
        concat([b, tag(field, WireType.len), varint(BigInt(content.length) + extra), content])
  ),
  // Wire types 6 and 7 do not exist; 4 (end group) without a start.
  fc.tuple(fc.nat(), anyField, fc.constantFrom(4, 6, 7)).map(
    ([p, field, wireType]): WireEdit =>
      (b) =>
        insertAt(b, p, tag(field, wireType))
  ),
  // A known field with the wrong wire type.
  fc.tuple(fc.nat(), fc.integer({ min: 1, max: 4 }), fc.constantFrom(0, 1, 3, 5), fc.bigInt({ min: 0n, max: 2n ** 64n - 1n })).map(
    ([p, field, wireType, value]): WireEdit =>
      (b) => {
        const body =
          wireType === 0
            ? varint(value)
            : wireType === 1
              ? new Uint8Array(8).fill(Number(value & 255n))
              : wireType === 5
                ? new Uint8Array(4).fill(Number(value & 255n))
                : concat([encodeField({ type: "varint", field: 1, value }), tag(field, 4)])
        return insertAt(b, p, concat([tag(field, wireType), body]))
      }
  ),
  // Groups nested deeper than any decoder recurses, closed or not.
  fc.tuple(fc.integer({ min: 1, max: 60_000 }), fc.boolean(), fc.integer({ min: 5, max: 99 })).map(
    ([depth, closed, field]): WireEdit =>
      (b) =>
        concat([
          b,
          repeated(tag(field, WireType.startGroup), depth),
          closed ? repeated(tag(field, WireType.endGroup), depth) : new Uint8Array(0)
        ])
  ),
  // Invalid UTF-8 in a string field (uid, key_id, or v1beta1 version).
  fc.tuple(fc.constantFrom(1, 2, 3), invalidUtf8, fc.string({ maxLength: 8 })).map(
    ([field, bad, text]): WireEdit =>
      (b) =>
        concat([b, encodeField(len(field, concat([utf8(text), bad])))])
  ),
  // Field number 0, and tags beyond 32 bits.
  fc.tuple(fc.nat(), fc.bigInt({ min: 2n ** 32n, max: 2n ** 64n - 1n }), fc.boolean()).map(
    ([p, big, zero]): WireEdit =>
      (b) =>
        insertAt(b, p, concat([zero ? tag(0, 2) : varint(((big << 3n) | 2n) & (2n ** 64n - 1n)), Uint8Array.of(1, 0x41)]))
  ),
  // Flipped and overwritten bytes.
  fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }).map(
    (edits): WireEdit =>
      (b) => {
        const copy = Uint8Array.from(b)
        if (copy.length > 0) for (const [p, v] of edits) copy[p % copy.length] = v
        return copy
      }
  ),
  // A whole second copy, or random bytes after a valid message.
  fc.uint8Array({ maxLength: 64 }).map(
    (tail): WireEdit =>
      (b) =>
        concat([b, tail.length === 0 ? b : tail])
  )
)

export const malformedCase = (pool: Pool): fc.Arbitrary<FuzzCase> =>
  fc.constantFrom(...methods).chain((method) =>
    fc.tuple(semanticRequest(pool, method), noise(method), fc.array(wireEdit, { minLength: 1, maxLength: 3 })).map(([s, n, edits]) => ({
      label: `${method} malformed`,
      path: pathOf(method),
      message: edits.reduce((b, edit) => edit(b), encodeMessage(wireFields(s, n))),
      expect: { kind: "any" } as const,
      undecodableAllowed: true
    }))
  )

/** Valid requests whose only flaw is invalid UTF-8 in a string: still refused, or taken with U+FFFD. */
export const invalidUtf8Case = (pool: Pool): fc.Arbitrary<FuzzCase> =>
  fc.constantFrom<Method>("v2.Encrypt", "v2.Decrypt", "v1beta1.Version", "v1beta1.Encrypt", "v1beta1.Decrypt").chain((method) =>
    fc.tuple(semanticRequest(pool, method), noise(method), invalidUtf8, fc.nat()).map(([s, n, bad, p]): FuzzCase => {
      const spoil = (text: Bytes) => insertAt(text, p, bad)
      const spoiled: Semantic =
        s.method === "v2.Encrypt"
          ? { ...s, uid: spoil(s.uid) }
          : s.method === "v2.Decrypt"
            ? p % 2 === 0
              ? { ...s, uid: spoil(s.uid) }
              : { ...s, keyId: spoil(s.keyId) }
            : s.method === "v1beta1.Version" || s.method === "v1beta1.Encrypt" || s.method === "v1beta1.Decrypt"
              ? { ...s, version: spoil(s.version) }
              : s
      return {
        label: `${method} invalid UTF-8`,
        path: pathOf(method),
        message: encodeMessage(wireFields(spoiled, n)),
        expect: expectOf(spoiled, pool),
        undecodableAllowed: true
      }
    })
  )

export const randomBytesCase: fc.Arbitrary<FuzzCase> = fc
  .tuple(
    fc.oneof({ weight: 6, arbitrary: fc.constantFrom(...methods.map(pathOf)) }, { weight: 1, arbitrary: unknownPath }),
    fc.oneof(
      { weight: 8, arbitrary: fc.uint8Array({ maxLength: 512 }) },
      { weight: 1, arbitrary: sizedBytes([4096, maxRequestMessageBytes, maxRequestMessageBytes + 1]) }
    )
  )
  .map(([path, message]) => ({
    label: `${methodOfPath.get(path) ?? "unknown path"} random bytes`,
    path,
    message,
    expect: methodOfPath.has(path) ? { kind: "any" } : { kind: "code", code: status.UNIMPLEMENTED },
    undecodableAllowed: true
  }))

export const unknownPathCase = (pool: Pool): fc.Arbitrary<FuzzCase> =>
  fc.tuple(unknownPath, wellFormedCase(pool)).map(([path, c]) => ({
    label: "unknown path",
    path,
    message: c.message,
    expect: { kind: "code", code: status.UNIMPLEMENTED },
    undecodableAllowed: false
  }))

// ---------------------------------------------------------------------------
// Sizes at the limits: whole messages just under, at and over
// maxRequestMessageBytes (padded with an unknown field), and a few MiB.

export const limitCase = (pool: Pool): fc.Arbitrary<FuzzCase> => {
  const entry = pool.entries.find((e) => e.api === "v2" && !e.disabled && e.plaintext.length < 64) as PoolEntry
  const valid: ReadonlyArray<readonly [Method, ReadonlyArray<WireField>, Expect]> = [
    ["v2.Status", [], ok()],
    ["v2.Encrypt", [len(1, patternBytes(32, 9))], ok(patternBytes(32, 9))],
    ["v2.Decrypt", [len(1, entry.ciphertext), len(3, utf8(entry.keyId))], ok(entry.plaintext)],
    ["v1beta1.Version", [len(1, utf8("v1beta1"))], ok()],
    ["v1beta1.Encrypt", [len(1, utf8("v1beta1")), len(2, patternBytes(32, 10))], ok(patternBytes(32, 10))],
    ["v1beta1.Decrypt", [len(2, entry.ciphertext)], ok(entry.plaintext)]
  ]
  const padded = fc.tuple(fc.constantFrom(...valid), fc.integer({ min: -3, max: 3 })).map(([[method, fields, expect], delta]): FuzzCase => {
    const total = maxRequestMessageBytes + delta
    return {
      label: `${method} padded to max${delta >= 0 ? "+" : ""}${delta}`,
      path: pathOf(method),
      message: padTo(fields, total),
      expect: total > maxRequestMessageBytes ? { kind: "code", code: status.RESOURCE_EXHAUSTED } : expect,
      undecodableAllowed: false
    }
  })
  const huge = fc
    .tuple(
      fc.oneof(
        { weight: 6, arbitrary: fc.constantFrom(...methods.map(pathOf)) },
        { weight: 1, arbitrary: fc.constantFrom(...unknownPaths) }
      ),
      fc.integer({ min: 1, max: 6 })
    )
    .map(
      ([path, mib]): FuzzCase => ({
        label: `${methodOfPath.get(path) ?? "unknown path"} ${mib} MiB`,
        path,
        // A well-formed field, so only the size can be the reason for a refusal.
        message: encodeMessage([len(1, new Uint8Array(mib * 1024 * 1024))]),
        expect: { kind: "code", code: methodOfPath.has(path) ? status.RESOURCE_EXHAUSTED : status.UNIMPLEMENTED },
        undecodableAllowed: false
      })
    )
  return fc.oneof({ weight: 5, arbitrary: padded }, { weight: 1, arbitrary: huge })
}

// ---------------------------------------------------------------------------
// Checking an answer.

/** What grpc-js answers (INTERNAL) when the request message does not parse. */
export const grpcJsUndecodable = "Error deserializing request"

const mayAnswer: Record<Method, ReadonlyArray<status>> = {
  "v2.Status": [status.OK],
  "v1beta1.Version": [status.OK],
  "v2.Encrypt": [status.OK, status.INVALID_ARGUMENT],
  "v1beta1.Encrypt": [status.OK, status.INVALID_ARGUMENT],
  "v2.Decrypt": [status.OK, status.INVALID_ARGUMENT, status.FAILED_PRECONDITION],
  "v1beta1.Decrypt": [status.OK, status.INVALID_ARGUMENT, status.FAILED_PRECONDITION]
}

export class Violation extends Error {}

const fail = (c: FuzzCase, outcome: Outcome, why: string): never => {
  const preview = Buffer.from(c.message.subarray(0, 48)).toString("hex")
  throw new Violation(
    `${why}\n  case: ${c.label} ${c.path}, ${c.message.length} bytes (${preview}${c.message.length > 48 ? "…" : ""})` +
      `\n  answer: ${status[outcome.code] ?? outcome.code}: ${outcome.details}`
  )
}

const v2DecryptRequest = (ciphertext: Bytes, keyId: string) => encodeMessage([len(1, ciphertext), len(3, utf8(keyId))])
const v1DecryptRequest = (cipher: Bytes) => encodeMessage([len(1, utf8("v1beta1")), len(2, cipher)])

/**
 * Checks one answer against the case, throwing a Violation if it breaks the
 * contract. An OK Encrypt is decrypted again through `client`.
 */
export const checkOutcome = async (c: FuzzCase, outcome: Outcome, pool: Pool, client: RawClient): Promise<void> => {
  const method = methodOfPath.get(c.path)
  if (outcome.code === status.UNKNOWN) fail(c, outcome, "UNKNOWN status")
  if (outcome.code === status.DEADLINE_EXCEEDED || outcome.code === status.UNAVAILABLE || outcome.code === status.CANCELLED) {
    fail(c, outcome, "no answer before the deadline, or the connection was lost")
  }
  if (method === undefined) {
    if (outcome.code !== status.UNIMPLEMENTED) fail(c, outcome, "an unknown method must be UNIMPLEMENTED")
    return
  }
  if (c.message.length > maxRequestMessageBytes) {
    if (outcome.code !== status.RESOURCE_EXHAUSTED)
      fail(c, outcome, `a message over ${maxRequestMessageBytes} bytes must be RESOURCE_EXHAUSTED`)
    return
  }
  if (outcome.code === status.INTERNAL) {
    if (outcome.details !== grpcJsUndecodable) fail(c, outcome, "INTERNAL other than grpc-js's parse failure")
    if (!c.undecodableAllowed && c.expect.kind !== "any") fail(c, outcome, "a well-formed message refused as undecodable")
    return
  }
  if (!mayAnswer[method].includes(outcome.code)) fail(c, outcome, `${method} may not answer this code`)
  const expect = c.expect
  switch (expect.kind) {
    case "ok":
      if (outcome.code !== status.OK) fail(c, outcome, "a valid request was refused")
      break
    case "code":
      if (outcome.code !== expect.code) fail(c, outcome, `expected ${status[expect.code]}`)
      return
    case "refused":
      if (!expect.codes.includes(outcome.code)) fail(c, outcome, `expected one of ${expect.codes.map((code) => status[code]).join(", ")}`)
      return
    case "any":
      break
  }
  if (outcome.code !== status.OK) return
  const plaintext = expect.kind === "ok" ? expect.plaintext : undefined
  let fields: Map<number, Array<Uint8Array>>
  try {
    fields = decodeLenFields(outcome.response ?? new Uint8Array(0))
  } catch (error) {
    return fail(c, outcome, `malformed response: ${String(error)}`)
  }
  switch (method) {
    case "v2.Status":
      if (lastText(fields, 1) !== "v2" || lastText(fields, 2) !== "ok" || lastText(fields, 3) !== pool.currentKeyId) {
        fail(c, outcome, `wrong Status: ${lastText(fields, 1)} ${lastText(fields, 2)} ${lastText(fields, 3)}`)
      }
      return
    case "v1beta1.Version":
      if (lastText(fields, 1) !== "v1beta1") fail(c, outcome, `wrong Version: ${lastText(fields, 1)}`)
      return
    case "v2.Decrypt":
    case "v1beta1.Decrypt": {
      const got = lastBytes(fields, 1)
      if (plaintext !== undefined) {
        if (!bytesEqual(got, plaintext)) fail(c, outcome, "decrypted to another plaintext")
        return
      }
      // Malformed, yet decrypted: it must hold a real ciphertext, and give its plaintext.
      const candidates = pool.entries.filter((e) => contains(c.message, e.ciphertext) && bytesEqual(e.plaintext, got))
      if (candidates.length === 0)
        fail(c, outcome, "decrypted something that holds none of the plugin's ciphertexts, or to the wrong plaintext")
      return
    }
    case "v2.Encrypt":
    case "v1beta1.Encrypt": {
      const ciphertext = lastBytes(fields, 1)
      if (ciphertext.length === 0) fail(c, outcome, "empty ciphertext")
      if (method === "v2.Encrypt") {
        if (lastText(fields, 2) !== pool.currentKeyId) fail(c, outcome, `Encrypt key_id ${lastText(fields, 2)} is not Status's`)
        if (fields.has(3)) fail(c, outcome, "Encrypt returned annotations")
      }
      const again =
        method === "v2.Encrypt"
          ? await client.call(pathOf("v2.Decrypt"), v2DecryptRequest(ciphertext, pool.currentKeyId))
          : await client.call(pathOf("v1beta1.Decrypt"), v1DecryptRequest(ciphertext))
      if (again.code !== status.OK) fail(c, again, "the ciphertext of an OK Encrypt does not decrypt")
      const roundTripped = lastBytes(decodeLenFields(again.response ?? new Uint8Array(0)), 1)
      if (plaintext !== undefined && !bytesEqual(roundTripped, plaintext)) fail(c, outcome, "Encrypt then Decrypt gave another plaintext")
      return
    }
  }
}
