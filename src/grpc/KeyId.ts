import { isKeySuffix, type KeyVersion, parseKeyVersionName } from "../config/KeyNames.ts"

// The v2 key_id: the Cloud KMS crypto key version name, plus ":<suffix>" when
// --key-suffix is set (the Go plugin's format, so its data keeps decrypting).

/** The apiserver refuses longer key_ids. */
export const maxKeyIdBytes = 1024

export interface ParsedKeyId {
  readonly keyVersion: KeyVersion
  readonly suffix: string | undefined
}

export const formatKeyId = (keyVersionName: string, suffix: string | undefined): string =>
  suffix === undefined ? keyVersionName : `${keyVersionName}:${suffix}`

export const parseKeyId = (keyId: string): ParsedKeyId | undefined => {
  // Project ids may hold a colon too (domain-scoped "example.com:proj"), so
  // the suffix is what follows the last colon, and only if no "/" follows it.
  const colon = keyId.lastIndexOf(":")
  const hasSuffix = colon !== -1 && !keyId.includes("/", colon)
  const name = hasSuffix ? keyId.slice(0, colon) : keyId
  const suffix = hasSuffix ? keyId.slice(colon + 1) : undefined
  if (suffix !== undefined && !isKeySuffix(suffix)) return undefined
  const keyVersion = parseKeyVersionName(name)
  return keyVersion === undefined ? undefined : { keyVersion, suffix }
}
