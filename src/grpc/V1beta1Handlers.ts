import * as Effect from "effect/Effect"
import type { CallLimits, KeyManagementShape } from "../kms/KeyManagement.ts"
import type { KmsError } from "../kms/KmsErrors.ts"
import { pluginVersion } from "../version.ts"
import type { V1beta1 } from "./messages.ts"
import { checkCiphertext, checkPlaintext, checkV1Version } from "./RequestRules.ts"

export const v1ApiVersion = "v1beta1"
/** The Go plugin's runtime name, kept so dashboards keyed on it still match. */
export const v1RuntimeName = "CloudKMS"

const versionResponse: V1beta1.VersionResponse = {
  version: v1ApiVersion,
  runtimeName: v1RuntimeName,
  runtimeVersion: pluginVersion
}

/** Thin handlers: check the request, call KeyManagement, shape the answer. */
export const makeV1beta1Handlers = (kms: KeyManagementShape) => ({
  Version: (_request: V1beta1.VersionRequest): Effect.Effect<V1beta1.VersionResponse> => Effect.succeed(versionResponse),

  Encrypt: (request: V1beta1.EncryptRequest, limits: CallLimits): Effect.Effect<V1beta1.EncryptResponse, KmsError> => {
    const invalid = checkV1Version(request.version) ?? checkPlaintext(request.plain)
    if (invalid !== undefined) return Effect.fail(invalid)
    return Effect.map(kms.encrypt(request.plain, limits), (encrypted) => ({ cipher: encrypted.ciphertext }))
  },

  Decrypt: (request: V1beta1.DecryptRequest, limits: CallLimits): Effect.Effect<V1beta1.DecryptResponse, KmsError> => {
    const invalid = checkV1Version(request.version) ?? checkCiphertext(request.cipher)
    if (invalid !== undefined) return Effect.fail(invalid)
    return Effect.map(kms.decrypt(request.cipher, undefined, limits), (plain) => ({ plain }))
  }
})
