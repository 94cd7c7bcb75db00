// A tiny protobuf wire encoder, so the fuzzer controls every byte the plugin
// parses: tags, varints, lengths and wire types, including ones no real
// encoder would write. Also a minimal decoder for the plugin's responses
// (whose fields are all length-delimited).

export const WireType = { varint: 0, i64: 1, len: 2, startGroup: 3, endGroup: 4, i32: 5 } as const

export type WireField =
  | { readonly type: "varint"; readonly field: number; readonly value: bigint }
  | { readonly type: "i64"; readonly field: number; readonly value: bigint }
  | { readonly type: "len"; readonly field: number; readonly value: Uint8Array }
  | { readonly type: "i32"; readonly field: number; readonly value: number }
  | { readonly type: "group"; readonly field: number; readonly fields: ReadonlyArray<WireField> }

/** Largest field number protobuf allows. */
export const maxFieldNumber = 2 ** 29 - 1

export const concat = (parts: ReadonlyArray<Uint8Array>): Uint8Array => {
  const length = parts.reduce((sum, part) => sum + part.length, 0)
  const out = new Uint8Array(length)
  let offset = 0
  for (const part of parts) {
    out.set(part, offset)
    offset += part.length
  }
  return out
}

/** Base-128 varint; negative values as their 64-bit two's complement (10 bytes), as protobuf does. */
export const varint = (value: bigint | number): Uint8Array => {
  let n = BigInt(value)
  if (n < 0n) n = BigInt.asUintN(64, n)
  const out: Array<number> = []
  while (n > 127n) {
    out.push(Number(n & 127n) | 128)
    n >>= 7n
  }
  out.push(Number(n))
  return Uint8Array.from(out)
}

export const tag = (field: number, wireType: number): Uint8Array => varint(BigInt(field) * 8n + BigInt(wireType))

const fixed = (value: bigint, bytes: number): Uint8Array => {
  const out = new Uint8Array(bytes)
  let n = BigInt.asUintN(bytes * 8, value)
  for (let i = 0; i < bytes; i++) {
    out[i] = Number(n & 255n)
    n >>= 8n
  }
  return out
}

export const encodeField = (f: WireField): Uint8Array => {
  switch (f.type) {
    case "varint":
      return concat([tag(f.field, WireType.varint), varint(f.value)])
    case "i64":
      return concat([tag(f.field, WireType.i64), fixed(f.value, 8)])
    case "i32":
      return concat([tag(f.field, WireType.i32), fixed(BigInt(f.value), 4)])
    case "len":
      return concat([tag(f.field, WireType.len), varint(f.value.length), f.value])
    case "group":
      return concat([tag(f.field, WireType.startGroup), ...f.fields.map(encodeField), tag(f.field, WireType.endGroup)])
  }
}

export const encodeMessage = (fields: ReadonlyArray<WireField>): Uint8Array => concat(fields.map(encodeField))

export const len = (field: number, value: Uint8Array): WireField => ({ type: "len", field, value })

export const utf8 = (text: string): Uint8Array => new TextEncoder().encode(text)

/**
 * A length-delimited field padded with an unknown field so that the whole
 * message is exactly `total` bytes (`fields` first, padding last).
 */
export const padTo = (fields: ReadonlyArray<WireField>, total: number, paddingField = 15): Uint8Array => {
  const body = encodeMessage(fields)
  const room = total - body.length
  // The padding field costs tag + length varint + content; find the content size that fits exactly.
  for (let content = Math.max(0, room - 12); content <= room; content++) {
    const padding = encodeField(len(paddingField, new Uint8Array(content)))
    if (padding.length === room) return concat([body, padding])
  }
  throw new Error(`cannot pad a ${body.length}-byte message to ${total} bytes`)
}

/** The length-delimited fields of a response, by field number (all occurrences). */
export const decodeLenFields = (bytes: Uint8Array): Map<number, Array<Uint8Array>> => {
  const fields = new Map<number, Array<Uint8Array>>()
  let pos = 0
  const readVarint = (): number => {
    let result = 0
    let shift = 0
    for (;;) {
      const byte = bytes[pos++]
      if (byte === undefined) throw new Error("response: truncated varint")
      result += (byte & 127) * 2 ** shift
      shift += 7
      if (byte < 128) return result
      if (shift > 49) throw new Error("response: varint too long")
    }
  }
  while (pos < bytes.length) {
    const key = readVarint()
    if (key % 8 !== WireType.len) throw new Error(`response: field ${Math.floor(key / 8)} has wire type ${key % 8}`)
    const size = readVarint()
    if (pos + size > bytes.length) throw new Error("response: field runs past the end")
    const list = fields.get(Math.floor(key / 8)) ?? []
    list.push(bytes.subarray(pos, pos + size))
    fields.set(Math.floor(key / 8), list)
    pos += size
  }
  return fields
}

/** The last occurrence of field `n` (proto3: last one wins), or empty. */
export const lastBytes = (fields: Map<number, Array<Uint8Array>>, n: number): Uint8Array => fields.get(n)?.at(-1) ?? new Uint8Array(0)

export const lastText = (fields: Map<number, Array<Uint8Array>>, n: number): string => new TextDecoder().decode(lastBytes(fields, n))

/** Deterministic pseudo-random bytes (xorshift32), for big payloads that fast-check need not generate byte by byte. */
export const patternBytes = (size: number, seed: number): Uint8Array => {
  const out = new Uint8Array(size)
  let x = seed | 0 || 0x9e3779b9
  for (let i = 0; i < size; i++) {
    x ^= x << 13
    x ^= x >>> 17
    x ^= x << 5
    out[i] = x & 255
  }
  return out
}

export const bytesEqual = (a: Uint8Array, b: Uint8Array): boolean => Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(b)

/** True if `needle` occurs in `haystack`. */
export const contains = (haystack: Uint8Array, needle: Uint8Array): boolean =>
  Buffer.from(haystack.buffer, haystack.byteOffset, haystack.byteLength).indexOf(needle) !== -1
