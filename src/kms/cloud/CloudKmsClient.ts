import type { KeyManagementServiceClient, protos } from "@google-cloud/kms"
import { status } from "@grpc/grpc-js"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Ref from "effect/Ref"
import type * as Scope from "effect/Scope"
import * as Semaphore from "effect/Semaphore"
import type { AuthClient } from "google-auth-library"
import type { CloudEndpoint } from "../../config/PluginConfig.ts"
import { RpcFailed, rpcFailedOf } from "./CloudKmsErrors.ts"

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
type IamResponse = Awaited<ReturnType<KeyManagementServiceClient["testIamPermissions"]>>[0]

/** Per-call options we hand gax. */
export interface GaxCallOptions {
  readonly signal: AbortSignal
  readonly retry: { readonly retryCodes: Array<number> }
  readonly timeout: number
}

/**
 * What we use of the gax client: its set-up and close, and one
 * promise-returning call per RPC. KeyManagementServiceClient is one; a bench
 * or a test may hand another.
 */
export interface GaxKmsClient {
  initialize(): Promise<unknown>
  close(): Promise<void>
  encrypt(request: EncryptRequest, options: GaxCallOptions): Promise<readonly [EncryptResponse, ...Array<unknown>]>
  decrypt(request: DecryptRequest, options: GaxCallOptions): Promise<readonly [DecryptResponse, ...Array<unknown>]>
  getCryptoKey(request: { name: string }, options: GaxCallOptions): Promise<readonly [CryptoKey, ...Array<unknown>]>
  testIamPermissions(request: IamRequest, options: GaxCallOptions): Promise<readonly [IamResponse, ...Array<unknown>]>
}

/** How one attempt is bounded: `timeoutMillis` becomes its gRPC deadline; interrupting it cancels the call. */
export interface AttemptLimits {
  readonly timeoutMillis: number
}

/** The calls the plugin makes, one attempt each. gax's own retries are off: one retry policy, ours. */
export interface CloudKmsApi {
  readonly encrypt: (request: EncryptRequest, limits: AttemptLimits) => Effect.Effect<EncryptResponse, RpcFailed>
  readonly decrypt: (request: DecryptRequest, limits: AttemptLimits) => Effect.Effect<DecryptResponse, RpcFailed>
  readonly getCryptoKey: (name: string, limits: AttemptLimits) => Effect.Effect<CryptoKey, RpcFailed>
  readonly testIamPermissions: (
    resource: string,
    permissions: ReadonlyArray<string>,
    limits: AttemptLimits
  ) => Effect.Effect<ReadonlyArray<string>, RpcFailed>
}

const callOptions = (signal: AbortSignal, limits: AttemptLimits): GaxCallOptions => ({
  signal,
  retry: { retryCodes: [] },
  timeout: limits.timeoutMillis
})

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
 * A client that has finished its set-up. gax's generated methods begin with
 * an unawaited `this.initialize().catch((e) => { throw e })`: when credentials
 * cannot be loaded (no ADC, metadata server unreachable at start) that
 * rejection is unhandled and kills the process, and the failed set-up stays
 * cached in the client for good. So the set-up is run here before any call,
 * once, shared by every attempt that waits for it; it goes on in the
 * background when an attempt stops waiting (its time counts against that
 * attempt), a failed one fails the attempts waiting (as UNAUTHENTICATED, see
 * rpcFailedOf), and the next attempt starts over with a new client.
 */
const readyClient = <Client extends GaxKmsClient>(create: () => Client) =>
  Effect.gen(function* () {
    const scope = yield* Effect.scope
    const ready = yield* Ref.make<Client | undefined>(undefined)
    const pending = yield* Ref.make<Deferred.Deferred<Client, RpcFailed> | undefined>(undefined)
    const lock = yield* Semaphore.make(1)

    const setUp = Effect.gen(function* () {
      const client = create()
      return yield* Effect.tryPromise({ try: () => client.initialize(), catch: rpcFailedOf }).pipe(
        Effect.as(client),
        // Failed or cut short (the layer closing): this client is never used.
        Effect.onExit((exit) => (Exit.isSuccess(exit) ? Effect.void : Effect.promise(() => client.close().catch(() => undefined))))
      )
    })

    /** The set-up in flight, or a new one. */
    const settingUp = lock.withPermit(
      Effect.gen(function* () {
        const inFlight = yield* Ref.get(pending)
        if (inFlight !== undefined) return inFlight
        const done = yield* Deferred.make<Client, RpcFailed>()
        yield* Ref.set(pending, done)
        yield* Effect.forkIn(
          Effect.onExit(setUp, (exit) =>
            Effect.andThen(Exit.isSuccess(exit) ? Ref.set(ready, exit.value) : Ref.set(pending, undefined), Deferred.done(done, exit))
          ),
          scope
        )
        return done
      })
    )

    const get = (limits: AttemptLimits): Effect.Effect<Client, RpcFailed> =>
      Effect.flatMap(Ref.get(ready), (client) =>
        client !== undefined
          ? Effect.succeed(client)
          : Effect.flatMap(settingUp, (done) =>
              Deferred.await(done).pipe(
                Effect.timeoutOrElse({
                  duration: limits.timeoutMillis,
                  orElse: () => Effect.fail(new RpcFailed({ code: status.DEADLINE_EXCEEDED, details: "Cloud KMS client set-up timed out" }))
                })
              )
            )
      )

    yield* Effect.addFinalizer(() =>
      Effect.flatMap(Ref.get(ready), (client) =>
        client === undefined ? Effect.void : Effect.promise(() => client.close().catch(() => undefined))
      )
    )
    return get
  })

/** The calls, one attempt each, over the gax client that `create` makes (again after a failed set-up). */
export const makeCloudKmsApiOn = (
  create: () => GaxKmsClient,
  iamRequest: (resource: string, permissions: ReadonlyArray<string>) => IamRequest
): Effect.Effect<CloudKmsApi, never, Scope.Scope> =>
  Effect.gen(function* () {
    const client = yield* readyClient(create)

    /** One attempt: interrupting it aborts the gRPC call. */
    const call = <A>(limits: AttemptLimits, send: (client: GaxKmsClient, signal: AbortSignal) => Promise<A>) =>
      Effect.flatMap(client(limits), (ready) => Effect.tryPromise({ try: (signal) => send(ready, signal), catch: rpcFailedOf }))

    return {
      encrypt: (request, limits) => call(limits, async (kms, signal) => (await kms.encrypt(request, callOptions(signal, limits)))[0]),
      decrypt: (request, limits) => call(limits, async (kms, signal) => (await kms.decrypt(request, callOptions(signal, limits)))[0]),
      getCryptoKey: (name, limits) =>
        call(limits, async (kms, signal) => (await kms.getCryptoKey({ name }, callOptions(signal, limits)))[0]),
      testIamPermissions: (resource, permissions, limits) =>
        call(limits, async (kms, signal) => {
          const [response] = await kms.testIamPermissions(iamRequest(resource, permissions), callOptions(signal, limits))
          return response.permissions ?? []
        })
    }
  })

export const makeCloudKmsApi = (endpoint: CloudEndpoint, authClient?: AuthClient): Effect.Effect<CloudKmsApi, never, Scope.Scope> =>
  Effect.gen(function* () {
    const [{ KeyManagementServiceClient }, gax] = yield* Effect.promise(() =>
      Promise.all([import("@google-cloud/kms"), import("google-gax")])
    )
    const options = yield* Effect.promise(() => clientOptions(endpoint, authClient))
    return yield* makeCloudKmsApiOn(
      () => new KeyManagementServiceClient(options),
      (resource, permissions) => gax.IamProtos.google.iam.v1.TestIamPermissionsRequest.create({ resource, permissions: [...permissions] })
    )
  })
