import { seededRandom } from "../fakes/seededRandom.ts"

// The soak's plaintexts: unique, recognisable, and reproducible from the
// seed. Every plaintext starts with one of two 8-byte markers, followed by a
// 12-byte fingerprint that no other plaintext shares:
//
//   text:   "soakPT1:" + 24 lowercase hex digits          (32 printable bytes)
//   binary: <8 printable marker bytes from the seed> + 12 random bytes + filler
//
// Sizes beyond 32 bytes pad with seeded filler. The first is what a log line
// would show as-is; the second is like the apiserver's 32-byte random seeds.
// The leak scanner (leakScan.ts) looks for the markers and the fingerprints.

export const textMarker = Buffer.from("soakPT1:", "latin1")
export const markerBytes = 8
export const fingerprintBytes = 12

export interface Plaintexts {
  /** The binary flavour's marker (printable, from the seed). */
  readonly binaryMarker: Buffer
  /** A new plaintext of `size` bytes (at least 32). */
  readonly next: (size: number) => Buffer
  /** How many plaintexts were made (the generator keeps none; `onPlaintext` sees each). */
  readonly count: () => number
}

export const minPlaintextBytes = 32

/** `onPlaintext` sees each plaintext once, when made (the leak scanner registers it). */
export const makePlaintexts = (seed: number, onPlaintext: (plaintext: Buffer) => void): Plaintexts => {
  const random = seededRandom(seed ^ 0x5eed)
  const byte = () => Math.floor(random() * 256)
  // Printable, no quote or backslash: a raw leak would show the marker verbatim.
  const printable = () => {
    for (;;) {
      const b = 0x21 + Math.floor(random() * 94)
      if (b !== 0x22 && b !== 0x5c) return b
    }
  }
  const binaryMarker = Buffer.from(Array.from({ length: markerBytes }, printable))
  let made = 0
  const next = (size: number): Buffer => {
    if (!(Number.isSafeInteger(size) && size >= minPlaintextBytes))
      throw new Error(`plaintext size must be an integer ≥ ${minPlaintextBytes}, got ${size}`)
    const plaintext = Buffer.alloc(size)
    const fingerprint = Buffer.from(Array.from({ length: fingerprintBytes }, byte))
    // The counter makes every fingerprint unique, whatever the PRNG does.
    fingerprint.writeUInt32BE(made >>> 0, fingerprintBytes - 4)
    if (made % 2 === 0) {
      textMarker.copy(plaintext, 0)
      plaintext.write(fingerprint.toString("hex"), markerBytes, "latin1")
    } else {
      binaryMarker.copy(plaintext, 0)
      fingerprint.copy(plaintext, markerBytes)
    }
    for (let i = minPlaintextBytes; i < size; i++) plaintext[i] = byte()
    if (made % 2 === 1) for (let i = markerBytes + fingerprintBytes; i < minPlaintextBytes; i++) plaintext[i] = byte()
    made += 1
    onPlaintext(plaintext)
    return plaintext
  }
  return { binaryMarker, next, count: () => made }
}
