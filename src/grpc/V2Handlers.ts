import * as Effect from "effect/Effect"
import type { PluginConfigShape } from "../config/PluginConfig.ts"
import type { CallLimits, KeyManagementShape, KeyStatus } from "../kms/KeyManagement.ts"
import type { KmsError } from "../kms/KmsErrors.ts"
import { formatKeyId } from "./KeyId.ts"
import type { V2 } from "./messages.ts"
import { checkAnnotations, checkCiphertext, checkKeyId, checkPlaintext } from "./RequestRules.ts"

/** The version Status reports: the stable name (the Go plugin said v2beta1). */
export const v2ApiVersion = "v2"

const noAnnotations: Readonly<Record<string, Uint8Array>> = Object.freeze({})

export const statusResponse = (status: KeyStatus, keySuffix: string | undefined): V2.StatusResponse => {
  if (status.keyVersion === undefined) {
    // The apiserver treats an empty key_id as unhealthy: nothing may be written yet.
    return { version: v2ApiVersion, healthz: status.problem ?? "no key version learned from the KMS yet", keyId: "" }
  }
  return { version: v2ApiVersion, healthz: status.problem ?? "ok", keyId: formatKeyId(status.keyVersion, keySuffix) }
}

/** Thin handlers: check the request, call KeyManagement, shape the answer. */
export const makeV2Handlers = (kms: KeyManagementShape, config: PluginConfigShape) => ({
  Status: (_request: V2.StatusRequest): Effect.Effect<V2.StatusResponse> =>
    Effect.map(kms.status, (status) => statusResponse(status, config.keySuffix)),

  Encrypt: (request: V2.EncryptRequest, limits: CallLimits): Effect.Effect<V2.EncryptResponse, KmsError> => {
    const invalid = checkPlaintext(request.plaintext)
    if (invalid !== undefined) return Effect.fail(invalid)
    return Effect.map(kms.encrypt(request.plaintext, limits), (encrypted) => ({
      ciphertext: encrypted.ciphertext,
      keyId: formatKeyId(encrypted.keyVersion, config.keySuffix),
      annotations: noAnnotations
    }))
  },

  Decrypt: (request: V2.DecryptRequest, limits: CallLimits): Effect.Effect<V2.DecryptResponse, KmsError> => {
    const invalid = checkCiphertext(request.ciphertext) ?? checkAnnotations(request.annotations)
    if (invalid !== undefined) return Effect.fail(invalid)
    const keyId = checkKeyId(request.keyId, config)
    if ("_tag" in keyId) return Effect.fail(keyId)
    return Effect.map(kms.decrypt(request.ciphertext, keyId.keyVersion, limits), (plaintext) => ({ plaintext }))
  }
})
