import type { PluginConfigShape } from "../config/PluginConfig.ts"
import { InvalidRequest, UnknownKey } from "../kms/KmsErrors.ts"
import { maxKeyIdBytes, type ParsedKeyId, parseKeyId } from "./KeyId.ts"

// What a request must look like before any KMS work. Cloud KMS takes at most
// 64 KiB of plaintext, so both APIs do; its ciphertext adds little to that.

export const maxPlaintextBytes = 64 * 1024
export const maxCiphertextBytes = maxPlaintextBytes + 1024
/** gRPC messages above this are refused by grpc-js from their length prefix, before buffering. */
export const maxRequestMessageBytes = maxCiphertextBytes + maxKeyIdBytes + 6 * 1024

export const checkPlaintext = (plaintext: Uint8Array): InvalidRequest | undefined => {
  if (plaintext.length === 0) return new InvalidRequest({ message: "plaintext is empty" })
  if (plaintext.length > maxPlaintextBytes) {
    return new InvalidRequest({ message: `plaintext is ${plaintext.length} bytes; at most ${maxPlaintextBytes} are accepted` })
  }
  return undefined
}

export const checkCiphertext = (ciphertext: Uint8Array): InvalidRequest | undefined => {
  if (ciphertext.length === 0) return new InvalidRequest({ message: "ciphertext is empty" })
  if (ciphertext.length > maxCiphertextBytes) {
    return new InvalidRequest({ message: `ciphertext is ${ciphertext.length} bytes; at most ${maxCiphertextBytes} are accepted` })
  }
  return undefined
}

/** v1beta1 requests carry the API version; the apiserver always sends "v1beta1". */
export const checkV1Version = (version: string): InvalidRequest | undefined =>
  version === "" || version === "v1beta1"
    ? undefined
    : new InvalidRequest({ message: `unsupported KMS API version ${JSON.stringify(version.slice(0, 32))}; expected v1beta1` })

/** This plugin writes no annotations, so any on a Decrypt request were not ours. */
export const checkAnnotations = (annotations: Readonly<Record<string, Uint8Array>>): InvalidRequest | undefined => {
  const names = Object.keys(annotations)
  return names.length === 0
    ? undefined
    : new InvalidRequest({
        message: `unexpected annotation ${JSON.stringify(names[0]?.slice(0, 64))}: this plugin writes none, so the ciphertext was not made by it`
      })
}

/**
 * The key_id must name a version of a configured crypto key (--key-uri or a
 * --decrypt-key-uri), with no suffix, the current one or a --decrypt-key-suffix.
 */
export const checkKeyId = (keyId: string, config: PluginConfigShape): ParsedKeyId | InvalidRequest | UnknownKey => {
  if (keyId === "") return new InvalidRequest({ message: "key_id is empty" })
  if (Buffer.byteLength(keyId) > maxKeyIdBytes) {
    return new InvalidRequest({ message: `key_id is longer than ${maxKeyIdBytes} bytes` })
  }
  const parsed = parseKeyId(keyId)
  if (parsed === undefined) {
    return new InvalidRequest({
      message: `malformed key_id ${JSON.stringify(keyId.slice(0, 200))}: expected projects/…/cryptoKeys/K/cryptoKeyVersions/N[:suffix]`
    })
  }
  const { cryptoKey } = parsed.keyVersion
  if (cryptoKey !== config.keyUri && !config.decryptKeyUris.includes(cryptoKey)) {
    return new UnknownKey({ message: `key_id names ${cryptoKey}, which is neither --key-uri nor a --decrypt-key-uri` })
  }
  const { suffix } = parsed
  if (suffix !== undefined && suffix !== config.keySuffix && !config.decryptKeySuffixes.includes(suffix)) {
    return new UnknownKey({ message: `key_id suffix ${JSON.stringify(suffix)} is neither --key-suffix nor a --decrypt-key-suffix` })
  }
  return parsed
}
