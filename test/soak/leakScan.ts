import { fingerprintBytes, markerBytes, textMarker } from "./plaintexts.ts"

// Finds the soak's plaintexts in text (the plugin's log, the error messages
// clients got): raw, hex (any case, with or without spaces between bytes),
// base64 and base64url at any byte alignment, and as decimal byte lists
// (JSON of a Uint8Array or Buffer). Two nets:
//
// - the markers every plaintext starts with, in each of those encodings:
//   catches any whole plaintext, whatever its length;
// - the fingerprint (bytes 8..20) of every plaintext made, in hex and base64
//   windows, and the text flavour's hex fingerprint as it stands: catches a
//   part of a plaintext that left the marker out.
//
// Needles are at least 48 bits long, so a random match in a few MB of log is
// out of the question; a hit is a leak.

export interface LeakHit {
  /** Which net and encoding matched. */
  readonly kind: string
  /** Where, in the scanned source. */
  readonly source: string
  /** A short excerpt around the hit. */
  readonly excerpt: string
}

const hexWindow = 2 * fingerprintBytes
const base64Window = 12

const toStandardBase64 = (text: string): string => text.replaceAll("-", "+").replaceAll("_", "/")

/**
 * The base64 characters that depend only on `bytes`, when `bytes` sits at
 * offset ≡ `alignment` (mod 3) inside a larger buffer.
 */
export const stableBase64 = (bytes: Uint8Array, alignment: 0 | 1 | 2): string => {
  const skip = (3 - alignment) % 3
  const rest = bytes.subarray(skip)
  const whole = rest.subarray(0, rest.length - (rest.length % 3))
  return Buffer.from(whole).toString("base64")
}

const alignments = [0, 1, 2] as const

/** Every fixed-string form of a marker worth searching for. */
const markerNeedles = (name: string, marker: Buffer): ReadonlyArray<{ readonly kind: string; readonly needle: string }> => {
  const hex = marker.toString("hex")
  const bytes = [...marker]
  return [
    { kind: `${name} raw`, needle: marker.toString("latin1") },
    { kind: `${name} raw (JSON-escaped)`, needle: JSON.stringify(marker.toString("latin1")).slice(1, -1) },
    { kind: `${name} hex`, needle: hex },
    { kind: `${name} hex (upper case)`, needle: hex.toUpperCase() },
    { kind: `${name} hex (spaced)`, needle: bytes.map((b) => b.toString(16).padStart(2, "0")).join(" ") },
    { kind: `${name} decimal list`, needle: bytes.join(",") },
    { kind: `${name} decimal list (spaced)`, needle: bytes.join(", ") },
    { kind: `${name} decimal list (pretty JSON)`, needle: bytes.join(",\n") },
    ...alignments.flatMap((alignment) => {
      const base64 = stableBase64(marker, alignment)
      return [
        { kind: `${name} base64 (alignment ${alignment})`, needle: base64 },
        { kind: `${name} base64url (alignment ${alignment})`, needle: base64.replaceAll("+", "-").replaceAll("/", "_") }
      ]
    })
  ].filter((entry) => entry.needle.length >= 6)
}

/** A Uint8Array's JSON ({"0":115,"1":111,…}) holds the marker at any index, its quotes maybe escaped (JSON in a JSON string). */
const jsonObjectPattern = (marker: Buffer): RegExp => {
  const quote = String.raw`\\*"`
  return new RegExp([...marker].map((b) => String.raw`${quote}\d+${quote}:\s*${b}`).join(String.raw`,\s*`), "g")
}

const excerptOf = (text: string, at: number, length: number): string =>
  JSON.stringify(text.slice(Math.max(0, at - 40), Math.min(text.length, at + length + 40)))

/** Runs of characters from `alphabet`, at least `min` long, with their offsets. */
const runsOf = (text: string, alphabet: RegExp, min: number): Array<{ readonly at: number; readonly run: string }> => {
  const runs: Array<{ at: number; run: string }> = []
  for (const match of text.matchAll(alphabet)) if (match[0].length >= min) runs.push({ at: match.index, run: match[0] })
  return runs
}

export class LeakScanner {
  readonly #markers: ReadonlyArray<{ readonly kind: string; readonly needle: string }>
  readonly #patterns: ReadonlyArray<{ readonly kind: string; readonly pattern: RegExp }>
  /** hex of fingerprints (and the text flavour's fingerprint text), lower case, 24 chars. */
  readonly #hex = new Set<string>()
  /** Stable base64 (standard alphabet) of fingerprints at each alignment, 12 chars. */
  readonly #base64 = new Set<string>()
  #registered = 0

  constructor(binaryMarker: Buffer) {
    this.#markers = [...markerNeedles("text marker", textMarker), ...markerNeedles("binary marker", binaryMarker)]
    this.#patterns = [
      { kind: "text marker JSON object", pattern: jsonObjectPattern(textMarker) },
      { kind: "binary marker JSON object", pattern: jsonObjectPattern(binaryMarker) }
    ]
  }

  get registered(): number {
    return this.#registered
  }

  /** Remembers a plaintext's fingerprint (not the plaintext). */
  register(plaintext: Uint8Array): void {
    const fingerprint = Buffer.from(plaintext.subarray(markerBytes, markerBytes + fingerprintBytes))
    this.#hex.add(fingerprint.toString("hex"))
    if (Buffer.from(plaintext.subarray(0, markerBytes)).equals(textMarker)) {
      this.#hex.add(Buffer.from(plaintext.subarray(markerBytes, markerBytes + hexWindow)).toString("latin1"))
    }
    for (const alignment of alignments) this.#base64.add(stableBase64(fingerprint, alignment).slice(0, base64Window))
    this.#registered += 1
  }

  /** Every leak in `text`; `source` names it in the hits. */
  scan(source: string, text: string): Array<LeakHit> {
    const hits: Array<LeakHit> = []
    for (const { kind, needle } of this.#markers) {
      for (let at = text.indexOf(needle); at !== -1; at = text.indexOf(needle, at + 1)) {
        hits.push({ kind, source, excerpt: excerptOf(text, at, needle.length) })
      }
    }
    for (const { kind, pattern } of this.#patterns) {
      for (const match of text.matchAll(pattern)) hits.push({ kind, source, excerpt: excerptOf(text, match.index, match[0].length) })
    }
    for (const { at, run } of runsOf(text, /[0-9a-fA-F]+/g, hexWindow)) {
      const lower = run.toLowerCase()
      for (let i = 0; i + hexWindow <= lower.length; i++) {
        if (this.#hex.has(lower.slice(i, i + hexWindow)))
          hits.push({ kind: "fingerprint hex", source, excerpt: excerptOf(text, at + i, hexWindow) })
      }
    }
    for (const { at, run } of runsOf(text, /[A-Za-z0-9+/_-]+/g, base64Window)) {
      const standard = toStandardBase64(run)
      for (let i = 0; i + base64Window <= standard.length; i++) {
        if (this.#base64.has(standard.slice(i, i + base64Window))) {
          hits.push({ kind: "fingerprint base64", source, excerpt: excerptOf(text, at + i, base64Window) })
        }
      }
    }
    return hits
  }
}

// Generic credential shapes. The plugin holds no key material in cloud mode
// (the key stays in Cloud KMS) and the soak runs it without credentials, so
// anything of this shape in its log is worth a look.
const secretPatterns: ReadonlyArray<{ readonly kind: string; readonly pattern: RegExp }> = [
  { kind: "PEM private key", pattern: /-----BEGIN [A-Z ]*PRIVATE KEY-----/g },
  { kind: "service account key field", pattern: /"private_key(_id)?"\s*:/g },
  { kind: "OAuth access token", pattern: /\bya29\.[0-9A-Za-z_-]{20,}/g },
  { kind: "bearer credential", pattern: /\bBearer\s+[0-9A-Za-z._~+/-]{20,}/gi }
]

export const scanSecrets = (source: string, text: string): Array<LeakHit> =>
  secretPatterns.flatMap(({ kind, pattern }) =>
    [...text.matchAll(pattern)].map((match) => ({ kind, source, excerpt: excerptOf(text, match.index, match[0].length) }))
  )
