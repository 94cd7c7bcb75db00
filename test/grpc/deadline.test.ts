import { assert, describe, it } from "@effect/vitest"
import * as grpc from "@grpc/grpc-js"
import * as Effect from "effect/Effect"
import { kmsServices } from "../../src/grpc/KmsProtos.ts"
import type { CallLimits, KeyManagementShape } from "../../src/kms/KeyManagement.ts"
import { inProcessPlugin } from "../support/InProcessPlugin.ts"

// The caller's deadline travels down to the KMS call (so no KMS work outlives
// the apiserver's patience); a call without one has no deadline.

const recordingKms = (seen: Array<CallLimits>): KeyManagementShape => ({
  status: Effect.succeed({ keyVersion: undefined, problem: "recording" }),
  encrypt: (_plaintext, limits) =>
    Effect.sync(() => {
      seen.push(limits)
      return { ciphertext: new Uint8Array([9]), keyVersion: "projects/p/locations/l/keyRings/r/cryptoKeys/k/cryptoKeyVersions/1" }
    }),
  decrypt: () => Effect.succeed(new Uint8Array([1])),
  missingPermissions: Effect.succeed([])
})

describe("caller deadlines", () => {
  it.live("the KMS sees the caller's deadline as an absolute time; without one it sees none", () =>
    Effect.gen(function* () {
      const seen: Array<CallLimits> = []
      const timeoutMillis = 60_000
      const served = yield* inProcessPlugin({ backend: recordingKms(seen), clientTimeoutMillis: timeoutMillis })
      const { client } = served
      const before = Date.now()
      yield* client.v2Encrypt({ plaintext: new Uint8Array([1]) })
      const after = Date.now()
      const deadline = seen[0]?.deadline
      assert.isNumber(deadline)
      // gRPC sends it as a relative timeout: the server's absolute time lies around ours.
      assert.isAbove(deadline ?? 0, before + timeoutMillis - 1_000)
      assert.isAtMost(deadline ?? Infinity, after + timeoutMillis + 1_000)

      const raw = yield* Effect.acquireRelease(
        Effect.sync(() => new grpc.Client(served.target, grpc.credentials.createInsecure())),
        (client) => Effect.sync(() => client.close())
      )
      const encrypt = kmsServices().v2["Encrypt"]
      if (encrypt === undefined) throw new Error("v2.Encrypt missing")
      yield* Effect.promise(
        () =>
          new Promise<void>((resolve) =>
            raw.makeUnaryRequest(
              encrypt.path,
              encrypt.requestSerialize,
              encrypt.responseDeserialize,
              { plaintext: Buffer.from([1]), uid: "" },
              () => resolve()
            )
          )
      )
      assert.strictEqual(seen.length, 2)
      assert.deepStrictEqual(seen[1], { deadline: undefined })
    }).pipe(Effect.scoped)
  )
})
