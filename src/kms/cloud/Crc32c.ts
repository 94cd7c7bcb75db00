// CRC32C (Castagnoli, reflected polynomial 0x82f63b78), the checksum Cloud
// KMS uses for end-to-end integrity. Node has none built in (zlib.crc32 is
// CRC-32/IEEE, another polynomial). Table-driven, slicing-by-8: eight bytes
// per step through eight 256-entry tables, then byte by byte for the rest.
// Checked against @aws-crypto/crc32c and the standard check value
// crc32c("123456789") = 0xe3069283 in test/kms/cloud/Crc32c.test.ts.

const polynomial = 0x82f63b78

const byteTable = (): Uint32Array => {
  const table = new Uint32Array(256)
  for (let n = 0; n < 256; n++) {
    let c = n
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ polynomial : c >>> 1
    table[n] = c
  }
  return table
}

/** The table for one more zero byte after `previous`'s. */
const shifted = (previous: Uint32Array): Uint32Array => {
  const table = new Uint32Array(256)
  for (let n = 0; n < 256; n++) {
    const c = previous[n] ?? 0
    table[n] = (c >>> 8) ^ (t0[c & 0xff] ?? 0)
  }
  return table
}

const t0 = byteTable()
const t1 = shifted(t0)
const t2 = shifted(t1)
const t3 = shifted(t2)
const t4 = shifted(t3)
const t5 = shifted(t4)
const t6 = shifted(t5)
const t7 = shifted(t6)

// Reads below are always in range; `?? 0` only satisfies the compiler (V8 drops it).

/** The CRC32C of `bytes`, as an unsigned 32-bit number. */
export const crc32c = (bytes: Uint8Array): number => {
  let crc = 0xffffffff
  let i = 0
  const length = bytes.length
  const whole = length - (length % 8)
  while (i < whole) {
    const low = crc ^ ((bytes[i] ?? 0) | ((bytes[i + 1] ?? 0) << 8) | ((bytes[i + 2] ?? 0) << 16) | ((bytes[i + 3] ?? 0) << 24))
    crc =
      (t7[low & 0xff] ?? 0) ^
      (t6[(low >>> 8) & 0xff] ?? 0) ^
      (t5[(low >>> 16) & 0xff] ?? 0) ^
      (t4[low >>> 24] ?? 0) ^
      (t3[bytes[i + 4] ?? 0] ?? 0) ^
      (t2[bytes[i + 5] ?? 0] ?? 0) ^
      (t1[bytes[i + 6] ?? 0] ?? 0) ^
      (t0[bytes[i + 7] ?? 0] ?? 0)
    i += 8
  }
  while (i < length) {
    crc = (t0[(crc ^ (bytes[i] ?? 0)) & 0xff] ?? 0) ^ (crc >>> 8)
    i += 1
  }
  return (crc ^ 0xffffffff) >>> 0
}
