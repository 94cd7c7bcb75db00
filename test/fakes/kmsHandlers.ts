import { crc32c } from "@aws-crypto/crc32c"
import { status } from "@grpc/grpc-js"
import { type FakeKeyStore, maxAadBytes, maxPlaintextBytes } from "./FakeKeyStore.ts"
import type { Fault } from "./FaultInjector.ts"
import { KmsStatusError } from "./KmsStatusError.ts"
import { bytesField, int64Value, int64ValueField, stringField, stringsField } from "./requestFields.ts"
import { parseResourceName, versionName } from "./resourceNames.ts"

// One function per served method: decoded request in, response object out
// (plain objects that proto-loader serializes), failures thrown as
// KmsStatusError. Response faults (corrupt, unverifiedCrc, wrongName) are
// applied here because only here is it known which field they touch.

const protectionLevel = "SOFTWARE"
const algorithm = "GOOGLE_SYMMETRIC_ENCRYPTION"

const has = (faults: ReadonlyArray<Fault>, kind: Fault["kind"]): boolean => faults.some((fault) => fault.kind === kind)

/** The resource name to answer with: the real one, unless a wrongName fault fired. */
const answeredName = (faults: ReadonlyArray<Fault>, real: string, otherwise: string): string => {
  for (const fault of faults) if (fault.kind === "wrongName") return fault.name ?? otherwise
  return real
}

/** Cloud KMS's integrity check: a CRC32C the caller sent must match the data. */
const verifyCrc = (data: Uint8Array, expected: bigint | undefined, crcField: string, dataField: string): boolean => {
  if (expected === undefined) return false
  if (BigInt(crc32c(data)) !== expected) {
    throw new KmsStatusError(status.INVALID_ARGUMENT, `The checksum in field ${crcField} did not match the data in field ${dataField}.`)
  }
  return true
}

/** Flips one byte in a copy: the CRC32C sent alongside no longer matches. */
const corrupted = (bytes: Buffer): Buffer => {
  const copy = Buffer.from(bytes)
  const at = Math.floor(copy.length / 2)
  copy.writeUInt8(copy.readUInt8(at) ^ 0xff, at)
  return copy
}

const checkAad = (aad: Buffer): void => {
  if (aad.length > maxAadBytes) {
    throw new KmsStatusError(
      status.INVALID_ARGUMENT,
      `additional_authenticated_data is too large: ${aad.length} bytes, at most ${maxAadBytes}.`
    )
  }
}

const timestamp = (date: Date) => ({ seconds: Math.floor(date.getTime() / 1000).toString(), nanos: (date.getTime() % 1000) * 1_000_000 })

export const handleEncrypt = (store: FakeKeyStore, request: unknown, faults: ReadonlyArray<Fault>) => {
  const name = stringField(request, "name")
  const resource = parseResourceName(name)
  if (resource === undefined)
    throw new KmsStatusError(status.INVALID_ARGUMENT, `Resource name [${name}] does not represent a valid CryptoKey or CryptoKeyVersion.`)
  const plaintext = bytesField(request, "plaintext")
  const aad = bytesField(request, "additionalAuthenticatedData")
  if (plaintext.length === 0) throw new KmsStatusError(status.INVALID_ARGUMENT, "plaintext must not be empty.")
  if (plaintext.length > maxPlaintextBytes) {
    throw new KmsStatusError(status.INVALID_ARGUMENT, `plaintext is too large: ${plaintext.length} bytes, at most ${maxPlaintextBytes}.`)
  }
  checkAad(aad)
  const verifiedPlaintext = verifyCrc(plaintext, int64ValueField(request, "plaintextCrc32c"), "plaintext_crc32c", "plaintext")
  const verifiedAad = verifyCrc(
    aad,
    int64ValueField(request, "additionalAuthenticatedDataCrc32c"),
    "additional_authenticated_data_crc32c",
    "additional_authenticated_data"
  )
  const encrypted = store.encrypt(resource.cryptoKey, resource.kind === "version" ? resource.version : undefined, plaintext, aad)
  return {
    name: answeredName(faults, versionName(resource.cryptoKey, encrypted.version), versionName(resource.cryptoKey, encrypted.version + 1)),
    ciphertext: has(faults, "corrupt") ? corrupted(encrypted.ciphertext) : encrypted.ciphertext,
    ciphertextCrc32c: int64Value(crc32c(encrypted.ciphertext)),
    verifiedPlaintextCrc32c: verifiedPlaintext && !has(faults, "unverifiedCrc"),
    verifiedAdditionalAuthenticatedDataCrc32c: verifiedAad,
    protectionLevel
  }
}

export const handleDecrypt = (store: FakeKeyStore, request: unknown, faults: ReadonlyArray<Fault>) => {
  const name = stringField(request, "name")
  const resource = parseResourceName(name)
  if (resource?.kind !== "cryptoKey")
    throw new KmsStatusError(status.INVALID_ARGUMENT, `Resource name [${name}] does not represent a valid CryptoKey.`)
  const ciphertext = bytesField(request, "ciphertext")
  const aad = bytesField(request, "additionalAuthenticatedData")
  checkAad(aad)
  verifyCrc(ciphertext, int64ValueField(request, "ciphertextCrc32c"), "ciphertext_crc32c", "ciphertext")
  verifyCrc(
    aad,
    int64ValueField(request, "additionalAuthenticatedDataCrc32c"),
    "additional_authenticated_data_crc32c",
    "additional_authenticated_data"
  )
  const decrypted = store.decrypt(resource.cryptoKey, ciphertext, aad)
  return {
    plaintext: has(faults, "corrupt") ? corrupted(decrypted.plaintext) : decrypted.plaintext,
    plaintextCrc32c: int64Value(crc32c(decrypted.plaintext)),
    usedPrimary: decrypted.usedPrimary,
    protectionLevel
  }
}

export const handleGetCryptoKey = (store: FakeKeyStore, request: unknown, faults: ReadonlyArray<Fault>) => {
  const name = stringField(request, "name")
  if (parseResourceName(name)?.kind !== "cryptoKey")
    throw new KmsStatusError(status.INVALID_ARGUMENT, `Resource name [${name}] does not represent a valid CryptoKey.`)
  const key = store.describe(name)
  return {
    name: answeredName(faults, key.name, `${key.name}-other`),
    purpose: "ENCRYPT_DECRYPT",
    createTime: timestamp(key.createTime),
    primary: {
      name: key.primary.name,
      state: key.primary.state,
      protectionLevel,
      algorithm,
      createTime: timestamp(key.primary.createTime)
    },
    versionTemplate: { protectionLevel, algorithm }
  }
}

export const handleTestIamPermissions = (store: FakeKeyStore, request: unknown) => {
  const resource = stringField(request, "resource")
  if (parseResourceName(resource)?.kind !== "cryptoKey") {
    throw new KmsStatusError(status.INVALID_ARGUMENT, `Resource name [${resource}] does not represent a valid CryptoKey.`)
  }
  return { permissions: store.grantedPermissions(resource, stringsField(request, "permissions")) }
}
