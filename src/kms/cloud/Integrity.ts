import * as Result from "effect/Result"
import { parseKeyVersionName } from "../../config/KeyNames.ts"
import type { DecryptResponse, EncryptResponse } from "./CloudKmsClient.ts"
import { IntegrityMismatch } from "./CloudKmsErrors.ts"
import { crc32c } from "./Crc32c.ts"

// End-to-end integrity, as Google recommends for Cloud KMS: we send CRC32C
// checksums of what we send, and check those of what comes back (and that
// the server verified ours). Data that fails a check is never returned.

export const crc32cOf = (bytes: Uint8Array): number => crc32c(bytes)

/** An Int64Value as the client hands it over (decimal string, number or Long). */
const int64 = (field: { value?: unknown } | null | undefined): number | undefined => {
  const value = field?.value
  if (typeof value === "number") return value
  if (typeof value === "string" && /^\d+$/.test(value)) return Number(value)
  if (typeof value === "object" && value !== null && "toString" in value) {
    const text = String(value)
    return /^\d+$/.test(text) ? Number(text) : undefined
  }
  return undefined
}

const bytes = (field: unknown): Uint8Array | undefined => (field instanceof Uint8Array ? field : undefined)

export interface Wrapped {
  readonly ciphertext: Uint8Array
  readonly keyVersion: string
}

/**
 * Checks an Encrypt answer. `requested` is what we asked to encrypt with: a
 * crypto key version (the answer must name exactly it) or a crypto key (the
 * answer must name one of its versions).
 */
export const verifyEncrypt =
  (requested: string) =>
  (response: EncryptResponse): Result.Result<Wrapped, IntegrityMismatch> => {
    const name = response.name ?? ""
    const named = parseKeyVersionName(name)
    if (named === undefined || (name !== requested && named.cryptoKey !== requested)) {
      return Result.fail(new IntegrityMismatch({ check: `resource name (asked ${requested}, answered ${JSON.stringify(name)})` }))
    }
    if (response.verifiedPlaintextCrc32c !== true) return Result.fail(new IntegrityMismatch({ check: "plaintext CRC32C verification" }))
    const ciphertext = bytes(response.ciphertext)
    if (ciphertext === undefined || ciphertext.length === 0) return Result.fail(new IntegrityMismatch({ check: "ciphertext presence" }))
    if (int64(response.ciphertextCrc32c) !== crc32cOf(ciphertext)) return Result.fail(new IntegrityMismatch({ check: "ciphertext CRC32C" }))
    return Result.succeed({ ciphertext, keyVersion: name })
  }

export const verifyDecrypt = (response: DecryptResponse): Result.Result<Uint8Array, IntegrityMismatch> => {
  const plaintext = bytes(response.plaintext)
  if (plaintext === undefined) return Result.fail(new IntegrityMismatch({ check: "plaintext presence" }))
  if (int64(response.plaintextCrc32c) !== crc32cOf(plaintext)) return Result.fail(new IntegrityMismatch({ check: "plaintext CRC32C" }))
  return Result.succeed(plaintext)
}
