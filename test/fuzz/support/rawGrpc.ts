import * as grpc from "@grpc/grpc-js"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"

// A grpc-js client that sends the given bytes as the request message and
// hands back the response bytes: the fuzzer, not a serializer, decides what
// goes on the wire.

export interface Outcome {
  readonly code: grpc.status
  readonly details: string
  /** The response message, when the code is OK. */
  readonly response: Uint8Array | undefined
}

export interface RawClient {
  readonly call: (path: string, message: Uint8Array, deadlineMillis?: number) => Promise<Outcome>
}

const identity = (bytes: Buffer): Buffer => bytes

export const makeRawClient = (target: string): Effect.Effect<RawClient, never, Scope.Scope> =>
  Effect.map(
    Effect.acquireRelease(
      Effect.sync(() => new grpc.Client(target, grpc.credentials.createInsecure())),
      (client) => Effect.sync(() => client.close())
    ),
    (client) => ({
      call: (path, message, deadlineMillis = 10_000) =>
        new Promise<Outcome>((resolve) => {
          client.makeUnaryRequest<Buffer, Buffer>(
            path,
            identity,
            identity,
            Buffer.from(message.buffer, message.byteOffset, message.byteLength),
            { deadline: Date.now() + deadlineMillis },
            (error, response) => {
              resolve(
                error === null
                  ? { code: grpc.status.OK, details: "", response }
                  : { code: error.code, details: error.details, response: undefined }
              )
            }
          )
        })
    })
  )
