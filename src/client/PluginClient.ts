import * as grpc from "@grpc/grpc-js"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Result from "effect/Result"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import { kmsServices } from "../grpc/KmsProtos.ts"
import type { V1beta1, V2 } from "../grpc/messages.ts"
import { statusName } from "../observability/Labels.ts"
import { unreachableReason } from "./unreachable.ts"

// A client of a running plugin's socket, for `probe`, `selftest`, the health
// server's checks and the tests. Answers are decoded with Schema: the other
// end may be any process on that socket.

export class CallFailed extends Data.TaggedError("CallFailed")<{
  readonly rpc: string
  readonly code: number
  readonly details: string
  /** The call never reached a server (no socket, nobody serving it): `details` says why in plain words. */
  readonly unreachable?: boolean | undefined
}> {
  override get message(): string {
    return this.unreachable === true ? this.details : `${this.rpc}: ${statusName(this.code)}: ${this.details}`
  }
}

const Bytes = Schema.Uint8Array
const StatusResponse = Schema.Struct({ version: Schema.String, healthz: Schema.String, keyId: Schema.String })
const EncryptResponse = Schema.Struct({
  ciphertext: Bytes,
  keyId: Schema.String,
  annotations: Schema.Record(Schema.String, Bytes)
})
const DecryptResponse = Schema.Struct({ plaintext: Bytes })
const VersionResponse = Schema.Struct({ version: Schema.String, runtimeName: Schema.String, runtimeVersion: Schema.String })
const V1EncryptResponse = Schema.Struct({ cipher: Bytes })
const V1DecryptResponse = Schema.Struct({ plain: Bytes })

export interface PluginClient {
  readonly v2Status: Effect.Effect<V2.StatusResponse, CallFailed>
  readonly v2Encrypt: (request: { plaintext: Uint8Array; uid?: string }) => Effect.Effect<V2.EncryptResponse, CallFailed>
  readonly v2Decrypt: (request: {
    ciphertext: Uint8Array
    keyId: string
    uid?: string
    annotations?: Readonly<Record<string, Uint8Array>>
  }) => Effect.Effect<V2.DecryptResponse, CallFailed>
  readonly v1Version: Effect.Effect<V1beta1.VersionResponse, CallFailed>
  readonly v1Encrypt: (plain: Uint8Array) => Effect.Effect<V1beta1.EncryptResponse, CallFailed>
  readonly v1Decrypt: (cipher: Uint8Array) => Effect.Effect<V1beta1.DecryptResponse, CallFailed>
}

/** A client of the plugin at `target` (e.g. unix:///run/kms.sock); closed with the scope. */
export const makePluginClient = (
  target: string,
  options: { readonly timeoutMillis: number }
): Effect.Effect<PluginClient, never, Scope.Scope> =>
  Effect.gen(function* () {
    const client = yield* Effect.acquireRelease(
      Effect.sync(() => new grpc.Client(target, grpc.credentials.createInsecure())),
      (client) => Effect.sync(() => client.close())
    )
    const services = kmsServices()

    const unary =
      <Res>(service: grpc.ServiceDefinition, method: string, decode: (value: unknown) => Result.Result<Res, Schema.SchemaError>) =>
      (request: object): Effect.Effect<Res, CallFailed> => {
        const definition = service[method]
        const rpc = definition?.path ?? method
        return Effect.callback<Res, CallFailed>((resume, signal) => {
          if (definition === undefined) {
            resume(Effect.fail(new CallFailed({ rpc, code: grpc.status.UNIMPLEMENTED, details: "unknown method" })))
            return
          }
          const call = client.makeUnaryRequest(
            definition.path,
            definition.requestSerialize,
            definition.responseDeserialize,
            request,
            { deadline: Date.now() + options.timeoutMillis },
            (error, response) => {
              if (error !== null) {
                const unreachable = error.code === grpc.status.UNAVAILABLE ? unreachableReason(error.details, target) : undefined
                resume(
                  Effect.fail(
                    unreachable === undefined
                      ? new CallFailed({ rpc, code: error.code, details: error.details })
                      : new CallFailed({ rpc, code: error.code, details: unreachable, unreachable: true })
                  )
                )
                return
              }
              const decoded = decode(response)
              resume(
                Result.isSuccess(decoded)
                  ? Effect.succeed(decoded.success)
                  : Effect.fail(
                      new CallFailed({ rpc, code: grpc.status.INTERNAL, details: `malformed response: ${decoded.failure.message}` })
                    )
              )
            }
          )
          signal.addEventListener("abort", () => call.cancel())
        })
      }

    const v2 = services.v2
    const v1 = services.v1beta1
    const status = unary(v2, "Status", Schema.decodeUnknownResult(StatusResponse))
    const encrypt = unary(v2, "Encrypt", Schema.decodeUnknownResult(EncryptResponse))
    const decrypt = unary(v2, "Decrypt", Schema.decodeUnknownResult(DecryptResponse))
    const version = unary(v1, "Version", Schema.decodeUnknownResult(VersionResponse))
    const v1Encrypt = unary(v1, "Encrypt", Schema.decodeUnknownResult(V1EncryptResponse))
    const v1Decrypt = unary(v1, "Decrypt", Schema.decodeUnknownResult(V1DecryptResponse))
    return {
      v2Status: Effect.suspend(() => status({})),
      v2Encrypt: (request) => encrypt({ plaintext: request.plaintext, uid: request.uid ?? "" }),
      v2Decrypt: (request) =>
        decrypt({
          ciphertext: request.ciphertext,
          keyId: request.keyId,
          uid: request.uid ?? "",
          annotations: request.annotations ?? {}
        }),
      v1Version: Effect.suspend(() => version({ version: "v1beta1" })),
      v1Encrypt: (plain) => v1Encrypt({ version: "v1beta1", plain }),
      v1Decrypt: (cipher) => v1Decrypt({ version: "v1beta1", cipher })
    }
  })
