import type { KeyManagementServiceClient, protos } from "@google-cloud/kms"
import { status } from "@grpc/grpc-js"
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

/**
 * A client that has finished its setup. gax's generated methods begin with an
 * unawaited `this.initialize().catch((e) => { throw e })`: when credentials
 * cannot be loaded (no ADC, metadata server unreachable at start) that
 * rejection is unhandled and kills the process, and the failed setup stays
 * cached in the client for good. So the setup is awaited here before any call;
 * a failed one fails that attempt (as UNAUTHENTICATED, see rpcFailedOf) and
 * the next attempt starts over with a new client.
 */
const readyClients = (create: () => KeyManagementServiceClient) => {
  let ready: KeyManagementServiceClient | undefined
  let pending: Promise<KeyManagementServiceClient> | undefined
  const setUp = (): Promise<KeyManagementServiceClient> => {
    const client = create()
    const setup = client.initialize().then(() => {
      ready = client
      return client
    }, (error: unknown) => {
      pending = undefined
      void client.close().catch(() => undefined)
      throw error
    })
    pending = setup
    return setup
  }
  return {
    get: (limits: AttemptLimits): Promise<KeyManagementServiceClient> =>
      ready === undefined ? withinAttempt(pending ?? setUp(), limits) : Promise.resolve(ready),
    close: async () => {
      const client = ready ?? await pending?.catch(() => undefined)
      await client?.close().catch(() => undefined)
    }
  }
}

/** A setup still running counts against the attempt that waits for it. */
const withinAttempt = <A>(setup: Promise<A>, limits: AttemptLimits): Promise<A> =>
  new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(Object.assign(new Error("Cloud KMS client setup timed out"), { code: status.DEADLINE_EXCEEDED })), limits.timeoutMillis)
    const abort = () => reject(limits.signal.reason)
    limits.signal.addEventListener("abort", abort, { once: true })
    setup.then(resolve, reject).finally(() => {
      clearTimeout(timer)
      limits.signal.removeEventListener("abort", abort)
    })
  })

export const makeCloudKmsApi = (
  endpoint: CloudEndpoint,
  authClient?: AuthClient
): Effect.Effect<CloudKmsApi, never, Scope.Scope> =>
  Effect.gen(function*() {
    const { clients, iamRequest } = yield* Effect.acquireRelease(
      Effect.promise(async () => {
        const [{ KeyManagementServiceClient }, gax] = await Promise.all([import("@google-cloud/kms"), import("google-gax")])
        const options = await clientOptions(endpoint, authClient)
        const iamRequest = (resource: string, permissions: ReadonlyArray<string>): IamRequest =>
          gax.IamProtos.google.iam.v1.TestIamPermissionsRequest.create({ resource, permissions: [...permissions] })
        return { clients: readyClients(() => new KeyManagementServiceClient(options)), iamRequest }
      }),
      ({ clients }) => Effect.promise(clients.close)
    )
    return {
      encrypt: async (request, limits) => (await (await clients.get(limits)).encrypt(request, callOptions(limits)))[0],
      decrypt: async (request, limits) => (await (await clients.get(limits)).decrypt(request, callOptions(limits)))[0],
      getCryptoKey: async (name, limits) => (await (await clients.get(limits)).getCryptoKey({ name }, callOptions(limits)))[0],
      testIamPermissions: async (resource, permissions, limits) => {
        const client = await clients.get(limits)
        const [response] = await client.testIamPermissions(iamRequest(resource, permissions), callOptions(limits))
        return response.permissions ?? []
      }
    }
  })
