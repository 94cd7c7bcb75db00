import { status } from "@grpc/grpc-js"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type { PluginConfigShape, RetryPolicy } from "../../src/config/PluginConfig.ts"
import type { CloudKmsApi, CryptoKey, EncryptResponse } from "../../src/kms/cloud/CloudKmsClient.ts"
import { type RpcFailed, rpcFailedOf } from "../../src/kms/cloud/CloudKmsErrors.ts"
import { crc32cOf } from "../../src/kms/cloud/Integrity.ts"
import { grpcError, testPolicy } from "./cloudScripted.ts"
import { configFrom } from "./config.ts"

// A CloudKmsApi whose GetCryptoKey and Encrypt answers a test scripts, for
// unit tests of the key version tracker (answers a real server never gives,
// such as a key without a primary, included).

export const scriptedKeyUri = "projects/p/locations/l/keyRings/r/cryptoKeys/k"
export const scriptedVersion = (n: number) => `${scriptedKeyUri}/cryptoKeyVersions/${n}`

export interface ScriptedApi {
  readonly api: CloudKmsApi
  readonly calls: { getCryptoKey: number; encrypt: number }
  /** What the next GetCryptoKey / Encrypt answers; tests swap these. */
  getCryptoKey: () => Promise<CryptoKey>
  encrypt: () => Promise<EncryptResponse>
}

/** One attempt as the real client makes it: a promise, its rejection read as a gRPC error. */
export const attempt = <A>(send: () => Promise<A>): Effect.Effect<A, RpcFailed> => Effect.tryPromise({ try: send, catch: rpcFailedOf })

export const scriptedApi = (): ScriptedApi => {
  const scripted: ScriptedApi = {
    calls: { getCryptoKey: 0, encrypt: 0 },
    getCryptoKey: () => Promise.reject(new Error("GetCryptoKey not scripted")),
    encrypt: () => Promise.reject(new Error("Encrypt not scripted")),
    api: {
      getCryptoKey: () =>
        attempt(() => {
          scripted.calls.getCryptoKey += 1
          return scripted.getCryptoKey()
        }),
      encrypt: () =>
        attempt(() => {
          scripted.calls.encrypt += 1
          return scripted.encrypt()
        }),
      decrypt: () => attempt(() => Promise.reject(new Error("Decrypt not scripted"))),
      testIamPermissions: () => attempt(() => Promise.reject(new Error("TestIamPermissions not scripted")))
    }
  }
  return scripted
}

type VersionState = NonNullable<NonNullable<CryptoKey["primary"]>["state"]>

/** A GetCryptoKey answer whose primary is version `version` in `state`. */
export const keyWithPrimary = (version: number, state: VersionState = "ENABLED"): Promise<CryptoKey> =>
  Promise.resolve({ name: scriptedKeyUri, primary: { name: scriptedVersion(version), state } })

/** A well-formed Encrypt answer (the probe's) from version `n`. */
export const probeAnswer = (version: number): Promise<EncryptResponse> => {
  const ciphertext = Buffer.from(`wrapped by ${version}`)
  return Promise.resolve({
    name: scriptedVersion(version),
    ciphertext,
    ciphertextCrc32c: { value: crc32cOf(ciphertext) },
    verifiedPlaintextCrc32c: true
  })
}

export const rejectWith = (code: number, details: string) => () => Promise.reject(grpcError(code, details))
export const denied = (details: string) => rejectWith(status.PERMISSION_DENIED, details)

/** The tracker's config: the scripted key, one attempt per call (no backoff sleeps), a 1 min refresh interval. */
export const trackerConfig = (retry: Partial<RetryPolicy> = {}): PluginConfigShape => ({
  ...configFrom({ keyUri: Option.some(scriptedKeyUri) }),
  retry: testPolicy({ maxAttempts: 1, ...retry }),
  keyRefreshIntervalMillis: 60_000
})
