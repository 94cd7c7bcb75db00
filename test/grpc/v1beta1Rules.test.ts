import { assert, describe, it } from "@effect/vitest"
import * as grpc from "@grpc/grpc-js"
import * as Effect from "effect/Effect"
import { kmsServices } from "../../src/grpc/KmsProtos.ts"
import { maxCiphertextBytes } from "../../src/grpc/RequestRules.ts"
import { inProcessPlugin } from "../support/InProcessPlugin.ts"

// v1beta1 requests are checked before any KMS work, and the caller is told
// exactly which rule it broke. A raw client, so the version field can be anything.

interface Answer {
  readonly code: grpc.status
  readonly details: string
}

const call = (client: grpc.Client, method: "Encrypt" | "Decrypt", request: object) =>
  Effect.promise(
    () =>
      new Promise<Answer>((resolve) => {
        const definition = kmsServices().v1beta1[method]
        if (definition === undefined) throw new Error(`v1beta1.${method} missing`)
        client.makeUnaryRequest(
          definition.path,
          definition.requestSerialize,
          definition.responseDeserialize,
          request,
          { deadline: Date.now() + 10_000 },
          (error) => resolve(error === null ? { code: grpc.status.OK, details: "" } : { code: error.code, details: error.details })
        )
      })
  )

describe("v1beta1 request rules over the socket", () => {
  it.live("a foreign API version, an empty or oversize cipher: INVALID_ARGUMENT with the rule's own message", () =>
    Effect.gen(function* () {
      const served = yield* inProcessPlugin()
      const client = yield* Effect.acquireRelease(
        Effect.sync(() => new grpc.Client(served.target, grpc.credentials.createInsecure())),
        (client) => Effect.sync(() => client.close())
      )
      const invalid = (details: string) => ({ code: grpc.status.INVALID_ARGUMENT, details })
      assert.deepStrictEqual(
        yield* call(client, "Encrypt", { version: "v2", plain: Buffer.from([1]) }),
        invalid('unsupported KMS API version "v2"; expected v1beta1')
      )
      assert.deepStrictEqual(
        yield* call(client, "Decrypt", { version: "v9", cipher: Buffer.alloc(0) }),
        invalid('unsupported KMS API version "v9"; expected v1beta1')
      )
      assert.deepStrictEqual(
        yield* call(client, "Decrypt", { version: "v1beta1", cipher: Buffer.alloc(0) }),
        invalid("ciphertext is empty")
      )
      // The apiserver may leave the version out: "" is the same as v1beta1.
      assert.deepStrictEqual(yield* call(client, "Decrypt", { version: "", cipher: Buffer.alloc(0) }), invalid("ciphertext is empty"))
      assert.deepStrictEqual(
        yield* call(client, "Decrypt", { version: "v1beta1", cipher: Buffer.alloc(maxCiphertextBytes + 1) }),
        invalid(`ciphertext is ${maxCiphertextBytes + 1} bytes; at most ${maxCiphertextBytes} are accepted`)
      )
      assert.deepStrictEqual(yield* call(client, "Encrypt", { version: "v1beta1", plain: Buffer.alloc(0) }), invalid("plaintext is empty"))
    }).pipe(Effect.scoped)
  )
})
