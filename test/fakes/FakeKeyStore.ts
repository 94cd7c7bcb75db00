import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto"
import { status } from "@grpc/grpc-js"
import { KmsStatusError } from "./KmsStatusError.ts"
import { isCryptoKeyName, versionName } from "./resourceNames.ts"

// The fake's crypto keys: versions with real AES-256-GCM material, states
// and a primary, plus the IAM permissions granted on each key.
//
// Ciphertext: format(1) = 0x01 | version(4, big endian) | nonce(12) | sealed | tag(16).
// GCM associated data = header | key name length(4) | key name | caller's AAD,
// so a ciphertext names its version, never opens under another crypto key,
// and a tampered version byte fails authentication.

export type VersionState = "ENABLED" | "DISABLED" | "DESTROYED"

export const versionStates: ReadonlyArray<VersionState> = ["ENABLED", "DISABLED", "DESTROYED"]

/** What the fake grants on every key unless denyPermissions drops some. */
export const grantablePermissions: ReadonlyArray<string> = [
  "cloudkms.cryptoKeyVersions.useToEncrypt",
  "cloudkms.cryptoKeyVersions.useToDecrypt",
  "cloudkms.cryptoKeys.get"
]

interface KeyVersion {
  readonly number: number
  readonly createTime: Date
  material: Buffer | undefined // undefined once destroyed
  state: VersionState
}

interface CryptoKey {
  readonly name: string
  readonly createTime: Date
  readonly versions: Map<number, KeyVersion>
  primary: number
  denied: ReadonlySet<string>
}

export interface VersionView {
  readonly name: string
  readonly state: VersionState
  readonly createTime: Date
}

export interface CryptoKeyView {
  readonly name: string
  readonly createTime: Date
  readonly primary: VersionView
}

export const maxPlaintextBytes = 65536
export const maxAadBytes = 65536
const formatByte = 0x01
const headerLength = 1 + 4
const nonceLength = 12
const tagLength = 16

const invalidCiphertext = () => new KmsStatusError(status.INVALID_ARGUMENT, "Decryption failed: the ciphertext is invalid.")

const newVersion = (number: number): KeyVersion => ({ number, createTime: new Date(), material: randomBytes(32), state: "ENABLED" })

const associatedData = (header: Buffer, cryptoKey: string, aad: Uint8Array): Buffer => {
  const keyName = Buffer.from(cryptoKey, "utf8")
  const keyLength = Buffer.alloc(4)
  keyLength.writeUInt32BE(keyName.length)
  return Buffer.concat([header, keyLength, keyName, aad])
}

export class FakeKeyStore {
  readonly #keys = new Map<string, CryptoKey>()

  constructor(names: ReadonlyArray<string>) {
    for (const name of names) this.addKey(name)
  }

  /** Adds a crypto key with one ENABLED primary version 1. */
  addKey(name: string): void {
    if (!isCryptoKeyName(name)) throw new Error(`not a crypto key name: ${name}`)
    if (this.#keys.has(name)) throw new Error(`crypto key already exists: ${name}`)
    this.#keys.set(name, { name, createTime: new Date(), versions: new Map([[1, newVersion(1)]]), primary: 1, denied: new Set() })
  }

  keyNames(): ReadonlyArray<string> {
    return [...this.#keys.keys()]
  }

  /** Adds a version and makes it primary (a Cloud KMS rotation); returns its number. */
  rotate(cryptoKey: string): number {
    const key = this.#control(cryptoKey)
    const number = Math.max(...key.versions.keys()) + 1
    key.versions.set(number, newVersion(number))
    key.primary = number
    return number
  }

  /** DESTROYED is final and drops the key material, as in Cloud KMS. */
  setVersionState(cryptoKey: string, version: number, state: VersionState): void {
    const found = this.#controlVersion(cryptoKey, version)
    if (found.state === "DESTROYED" && state !== "DESTROYED") throw new Error(`${versionName(cryptoKey, version)} is destroyed for good`)
    found.state = state
    if (state === "DESTROYED") found.material = undefined
  }

  /** Like UpdateCryptoKeyPrimaryVersion: only an ENABLED version can become primary. */
  setPrimary(cryptoKey: string, version: number): void {
    const found = this.#controlVersion(cryptoKey, version)
    if (found.state !== "ENABLED") throw new Error(`${versionName(cryptoKey, version)} is ${found.state}, cannot be primary`)
    this.#control(cryptoKey).primary = version
  }

  /** Replaces the set of permissions withheld on the key; [] grants all again. */
  denyPermissions(cryptoKey: string, permissions: ReadonlyArray<string>): void {
    this.#control(cryptoKey).denied = new Set(permissions)
  }

  /** The subset of `requested` granted on the key, in request order. */
  grantedPermissions(cryptoKey: string, requested: ReadonlyArray<string>): ReadonlyArray<string> {
    const key = this.#lookup(cryptoKey)
    return requested.filter((permission) => grantablePermissions.includes(permission) && !key.denied.has(permission))
  }

  describe(cryptoKey: string): CryptoKeyView {
    const key = this.#lookup(cryptoKey)
    this.#requirePermission(key, "cloudkms.cryptoKeys.get")
    const primary = this.#versionOf(key, key.primary)
    return {
      name: key.name,
      createTime: key.createTime,
      primary: { name: versionName(key.name, primary.number), state: primary.state, createTime: primary.createTime }
    }
  }

  /** Encrypts under `version`, or under the primary when it is undefined. */
  encrypt(
    cryptoKey: string,
    version: number | undefined,
    plaintext: Uint8Array,
    aad: Uint8Array
  ): { readonly version: number; readonly ciphertext: Buffer } {
    const key = this.#lookup(cryptoKey)
    this.#requirePermission(key, "cloudkms.cryptoKeyVersions.useToEncrypt")
    const found = this.#versionOf(key, version ?? key.primary)
    const material = this.#enabledMaterial(key, found)
    const header = Buffer.alloc(headerLength)
    header.writeUInt8(formatByte, 0)
    header.writeUInt32BE(found.number, 1)
    const nonce = randomBytes(nonceLength)
    const cipher = createCipheriv("aes-256-gcm", material, nonce)
    cipher.setAAD(associatedData(header, key.name, aad))
    const sealed = Buffer.concat([cipher.update(plaintext), cipher.final()])
    return { version: found.number, ciphertext: Buffer.concat([header, nonce, sealed, cipher.getAuthTag()]) }
  }

  decrypt(cryptoKey: string, ciphertext: Uint8Array, aad: Uint8Array): { readonly plaintext: Buffer; readonly usedPrimary: boolean } {
    const key = this.#lookup(cryptoKey)
    this.#requirePermission(key, "cloudkms.cryptoKeyVersions.useToDecrypt")
    const bytes = Buffer.from(ciphertext)
    if (bytes.length < headerLength + nonceLength + tagLength || bytes.readUInt8(0) !== formatByte) throw invalidCiphertext()
    const found = key.versions.get(bytes.readUInt32BE(1))
    if (found === undefined) throw invalidCiphertext()
    const material = this.#enabledMaterial(key, found)
    const header = bytes.subarray(0, headerLength)
    const nonce = bytes.subarray(headerLength, headerLength + nonceLength)
    const sealed = bytes.subarray(headerLength + nonceLength, bytes.length - tagLength)
    const decipher = createDecipheriv("aes-256-gcm", material, nonce)
    decipher.setAAD(associatedData(header, key.name, aad))
    decipher.setAuthTag(bytes.subarray(bytes.length - tagLength))
    try {
      return { plaintext: Buffer.concat([decipher.update(sealed), decipher.final()]), usedPrimary: found.number === key.primary }
    } catch {
      throw invalidCiphertext()
    }
  }

  #lookup(cryptoKey: string): CryptoKey {
    const key = this.#keys.get(cryptoKey)
    if (key === undefined) throw new KmsStatusError(status.NOT_FOUND, `CryptoKey ${cryptoKey} not found.`)
    return key
  }

  #versionOf(key: CryptoKey, version: number): KeyVersion {
    const found = key.versions.get(version)
    if (found === undefined) throw new KmsStatusError(status.NOT_FOUND, `CryptoKeyVersion ${versionName(key.name, version)} not found.`)
    return found
  }

  #enabledMaterial(key: CryptoKey, version: KeyVersion): Buffer {
    if (version.state !== "ENABLED" || version.material === undefined) {
      throw new KmsStatusError(
        status.FAILED_PRECONDITION,
        `${versionName(key.name, version.number)} is not enabled, current state is: ${version.state}.`
      )
    }
    return version.material
  }

  #requirePermission(key: CryptoKey, permission: string): void {
    if (key.denied.has(permission)) {
      throw new KmsStatusError(
        status.PERMISSION_DENIED,
        `Permission '${permission}' denied on resource '${key.name}' (or it may not exist).`
      )
    }
  }

  // Control methods are called by tests: misuse is a test bug, so plain Errors.
  #control(cryptoKey: string): CryptoKey {
    const key = this.#keys.get(cryptoKey)
    if (key === undefined) throw new Error(`no such crypto key in the fake: ${cryptoKey}`)
    return key
  }

  #controlVersion(cryptoKey: string, version: number): KeyVersion {
    const found = this.#control(cryptoKey).versions.get(version)
    if (found === undefined) throw new Error(`no such version in the fake: ${versionName(cryptoKey, version)}`)
    return found
  }
}
