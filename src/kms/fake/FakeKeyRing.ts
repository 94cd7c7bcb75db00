import { createCipheriv, createDecipheriv, createSecretKey, type KeyObject, randomBytes } from "node:crypto"
import * as Result from "effect/Result"
import { type KeyVersion, keyVersionName } from "../../config/KeyNames.ts"
import { InvalidCiphertext, KeyUnusable } from "../KmsErrors.ts"

// In-process crypto keys for the fake backend: real AES-256-GCM, random
// nonces, versions that rotate and can be disabled, like Cloud KMS keys.
// Keys are immutable values: a change makes a new key, so the backend can
// save it first and use it only once it is on disk.
//
// Ciphertext: format(1) | version(4, big endian) | nonce(12) | sealed | tag(16).
// The associated data binds it to its crypto key and version, so a ciphertext
// never opens under another key, and a v2 key_id naming another version is
// refused even before any decryption.

export type VersionState = "ENABLED" | "DISABLED" | "DESTROYED"

export interface FakeKeyVersion {
  readonly version: number
  readonly material: Uint8Array
  /** Made once: handing node:crypto raw bytes would rebuild a key object on every call. */
  readonly key: KeyObject
  readonly state: VersionState
}

export const keyVersion = (version: number, material: Uint8Array, state: VersionState): FakeKeyVersion => ({
  version,
  material,
  key: createSecretKey(material),
  state
})

export interface FakeCryptoKey {
  readonly name: string
  readonly primary: number
  readonly versions: ReadonlyMap<number, FakeKeyVersion>
}

const formatByte = 0x01
const headerLength = 1 + 4
const nonceLength = 12
const tagLength = 16
/** Smallest possible ciphertext: a header, a nonce, one sealed byte, a tag. */
export const minimumCiphertextLength = headerLength + nonceLength + 1 + tagLength

const associatedData = (cryptoKey: string, version: number): Buffer => Buffer.from(`k8s-cloudkms-plugin fake kms|${cryptoKey}|${version}`)

export const newCryptoKey = (name: string): FakeCryptoKey => ({
  name,
  primary: 1,
  versions: new Map([[1, keyVersion(1, randomBytes(32), "ENABLED")]])
})

/**
 * The key with a new version, made primary, as a Cloud KMS rotation does. The
 * number is above every version and the primary (even one missing from a
 * key file), so a version number never names two different key materials.
 */
export const rotated = (key: FakeCryptoKey): FakeCryptoKey => {
  const version = Math.max(0, key.primary, ...key.versions.keys()) + 1
  return {
    name: key.name,
    primary: version,
    versions: new Map([...key.versions, [version, keyVersion(version, randomBytes(32), "ENABLED")]])
  }
}

/** The key with `version` in `state`; undefined if it has no such version. */
export const withVersionState = (key: FakeCryptoKey, version: number, state: VersionState): FakeCryptoKey | undefined => {
  const found = key.versions.get(version)
  if (found === undefined) return undefined
  return { ...key, versions: new Map([...key.versions, [version, { ...found, state }]]) }
}

/** The key with `version` as primary; undefined if it has no such version. */
export const withPrimary = (key: FakeCryptoKey, version: number): FakeCryptoKey | undefined =>
  key.versions.has(version) ? { ...key, primary: version } : undefined

const usableVersion = (key: FakeCryptoKey, version: number): Result.Result<FakeKeyVersion, InvalidCiphertext | KeyUnusable> => {
  const found = key.versions.get(version)
  const name = keyVersionName({ cryptoKey: key.name, version })
  if (found === undefined) return Result.fail(new InvalidCiphertext({ message: `${name} does not exist` }))
  if (found.state !== "ENABLED") {
    return Result.fail(new KeyUnusable({ message: `${name} is ${found.state}; enable it, or rotate to a new primary version` }))
  }
  return Result.succeed(found)
}

export const sealWithPrimary = (
  key: FakeCryptoKey,
  plaintext: Uint8Array
): Result.Result<{ ciphertext: Buffer; keyVersion: KeyVersion }, InvalidCiphertext | KeyUnusable> => {
  const usable = usableVersion(key, key.primary)
  if (Result.isFailure(usable)) return Result.fail(usable.failure)
  const found = usable.success
  const nonce = randomBytes(nonceLength)
  const header = Buffer.alloc(headerLength)
  header.writeUInt8(formatByte, 0)
  header.writeUInt32BE(found.version, 1)
  const cipher = createCipheriv("aes-256-gcm", found.key, nonce)
  cipher.setAAD(associatedData(key.name, found.version))
  const sealed = cipher.update(plaintext)
  const final = cipher.final()
  return Result.succeed({
    ciphertext: Buffer.concat([header, nonce, sealed, final, cipher.getAuthTag()]),
    keyVersion: { cryptoKey: key.name, version: found.version }
  })
}

/**
 * Opens a ciphertext made by `key`. `expectedVersion` (from a v2 key_id), when
 * given, must be the version the ciphertext was made with.
 */
export const open = (
  key: FakeCryptoKey,
  ciphertext: Uint8Array,
  expectedVersion: number | undefined
): Result.Result<Buffer, InvalidCiphertext | KeyUnusable> => {
  const data = Buffer.from(ciphertext.buffer, ciphertext.byteOffset, ciphertext.byteLength)
  if (data.length < minimumCiphertextLength || data.readUInt8(0) !== formatByte) {
    return Result.fail(new InvalidCiphertext({ message: `ciphertext was not made by fake key ${key.name}` }))
  }
  const version = data.readUInt32BE(1)
  if (expectedVersion !== undefined && version !== expectedVersion) {
    return Result.fail(
      new InvalidCiphertext({
        message: `key_id names version ${expectedVersion} of ${key.name}, but the ciphertext was not made with it`
      })
    )
  }
  const usable = usableVersion(key, version)
  if (Result.isFailure(usable)) return Result.fail(usable.failure)
  const found = usable.success
  try {
    const decipher = createDecipheriv("aes-256-gcm", found.key, data.subarray(headerLength, headerLength + nonceLength))
    decipher.setAAD(associatedData(key.name, version))
    decipher.setAuthTag(data.subarray(data.length - tagLength))
    const opened = decipher.update(data.subarray(headerLength + nonceLength, data.length - tagLength))
    return Result.succeed(Buffer.concat([opened, decipher.final()]))
  } catch {
    return Result.fail(
      new InvalidCiphertext({ message: `ciphertext failed authentication under ${key.name}: corrupted, or made by another key` })
    )
  }
}
