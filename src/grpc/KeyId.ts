import { type KeyVersion, parseKeyVersionName } from "../kms/KeyNames.ts"

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
  const colon = keyId.indexOf(":")
  const name = colon === -1 ? keyId : keyId.slice(0, colon)
  const suffix = colon === -1 ? undefined : keyId.slice(colon + 1)
  if (suffix !== undefined && !/^[A-Za-z0-9._-]{1,64}$/.test(suffix)) return undefined
  const keyVersion = parseKeyVersionName(name)
  return keyVersion === undefined ? undefined : { keyVersion, suffix }
}
