import type { KeyManagementServiceClient, protos } from "@google-cloud/kms"
import type { AuthClient } from "google-auth-library"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"
import type { CloudEndpoint } from "../../config/PluginConfig.ts"

// The @google-cloud/kms client, loaded only when the cloud backend is chosen
// (it costs ~0.3 s and tens of MiB to import), and closed with the layer.

type Kms = typeof protos.google.cloud.kms.v1

export type EncryptRequest = protos.google.cloud.kms.v1.IEncryptRequest
export type EncryptResponse = protos.google.cloud.kms.v1.IEncryptResponse
export type DecryptRequest = protos.google.cloud.kms.v1.IDecryptRequest
export type DecryptResponse = protos.google.cloud.kms.v1.IDecryptResponse
export type CryptoKey = protos.google.cloud.kms.v1.ICryptoKey
export type { Kms }
type IamRequest = Parameters<KeyManagementServiceClient["testIamPermissions"]>[0]

/** How one attempt is bounded: `signal` cancels it, `timeoutMillis` becomes its gRPC deadline. */
export interface AttemptLimits {
  readonly signal: AbortSignal
  readonly timeoutMillis: number
}

/** The calls the plugin makes. gax's own retries are off: one retry policy, ours. */
export interface CloudKmsApi {
  readonly encrypt: (request: EncryptRequest, limits: AttemptLimits) => Promise<EncryptResponse>
  readonly decrypt: (request: DecryptRequest, limits: AttemptLimits) => Promise<DecryptResponse>
  readonly getCryptoKey: (name: string, limits: AttemptLimits) => Promise<CryptoKey>
  readonly testIamPermissions: (resource: string, permissions: ReadonlyArray<string>, limits: AttemptLimits) => Promise<ReadonlyArray<string>>
}

const callOptions = (limits: AttemptLimits) => ({ signal: limits.signal, retry: { retryCodes: [] }, timeout: limits.timeoutMillis })

/** Client options for where and how to connect. An auth client may be supplied (--gce-config). */
const clientOptions = async (endpoint: CloudEndpoint, authClient: AuthClient | undefined) => {
  if (endpoint._tag === "Google") return authClient === undefined ? {} : { authClient }
  if (!endpoint.insecure) {
    return { apiEndpoint: endpoint.host, port: endpoint.port, ...(authClient === undefined ? {} : { authClient }) }
  }
  // Plaintext and no credentials at all: nothing may try to reach a metadata server.
  const [{ PassThroughClient }, grpc] = await Promise.all([import("google-auth-library"), import("@grpc/grpc-js")])
  return {
    apiEndpoint: endpoint.host,
    port: endpoint.port,
    sslCreds: grpc.credentials.createInsecure(),
    authClient: new PassThroughClient()
  }
}

export const makeCloudKmsApi = (
  endpoint: CloudEndpoint,
  authClient?: AuthClient
): Effect.Effect<CloudKmsApi, never, Scope.Scope> =>
  Effect.gen(function*() {
    let iamRequest: (resource: string, permissions: ReadonlyArray<string>) => IamRequest = () => {
      throw new Error("client not loaded")
    }
    const client: KeyManagementServiceClient = yield* Effect.acquireRelease(
      Effect.promise(async () => {
        const [{ KeyManagementServiceClient }, gax] = await Promise.all([import("@google-cloud/kms"), import("google-gax")])
        iamRequest = (resource, permissions) =>
          gax.IamProtos.google.iam.v1.TestIamPermissionsRequest.create({ resource, permissions: [...permissions] })
        return new KeyManagementServiceClient(await clientOptions(endpoint, authClient))
      }),
      (client) => Effect.promise(() => client.close().catch(() => undefined))
    )
    return {
      encrypt: async (request, limits) => (await client.encrypt(request, callOptions(limits)))[0],
      decrypt: async (request, limits) => (await client.decrypt(request, callOptions(limits)))[0],
      getCryptoKey: async (name, limits) => (await client.getCryptoKey({ name }, callOptions(limits)))[0],
      testIamPermissions: async (resource, permissions, limits) => {
        const [response] = await client.testIamPermissions(iamRequest(resource, permissions), callOptions(limits))
        return response.permissions ?? []
      }
    }
  })
