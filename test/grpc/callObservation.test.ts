import { performance } from "node:perf_hooks"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { inProcessPlugin } from "../support/InProcessPlugin.ts"

// Every RPC reaches the observer (the failure log line and the metrics) under
// its own API and method name, with the request uid where the API has one.

describe("call observation", () => {
  it.live("each of the six RPCs is reported as api.method, with the v2 Encrypt/Decrypt uid and no uid elsewhere", () =>
    Effect.gen(function* () {
      const served = yield* inProcessPlugin()
      const { client } = served
      yield* client.v2Status
      const encrypted = yield* client.v2Encrypt({ plaintext: new Uint8Array([1, 2, 3]), uid: "uid-enc" })
      yield* client.v2Decrypt({ ciphertext: encrypted.ciphertext, keyId: encrypted.keyId, uid: "uid-dec" })
      yield* client.v1Version
      const v1 = yield* client.v1Encrypt(new Uint8Array([4, 5]))
      yield* client.v1Decrypt(v1.cipher)
      assert.deepStrictEqual(
        served.outcomes.map((o) => ({ rpc: `${o.method.api}.${o.method.name}`, uid: o.uid, failed: o.failure !== undefined })),
        [
          { rpc: "v2.Status", uid: undefined, failed: false },
          { rpc: "v2.Encrypt", uid: "uid-enc", failed: false },
          { rpc: "v2.Decrypt", uid: "uid-dec", failed: false },
          { rpc: "v1beta1.Version", uid: undefined, failed: false },
          { rpc: "v1beta1.Encrypt", uid: undefined, failed: false },
          { rpc: "v1beta1.Decrypt", uid: undefined, failed: false }
        ]
      )
    }).pipe(Effect.scoped)
  )

  it.live("a failed call is reported with its gRPC code and logged once", () =>
    Effect.gen(function* () {
      const served = yield* inProcessPlugin()
      const { client } = served
      yield* Effect.flip(client.v2Encrypt({ plaintext: new Uint8Array(0), uid: "uid-empty" }))
      assert.deepStrictEqual(
        served.outcomes.map((o) => [o.method.name, o.uid, o.failure]),
        [["Encrypt", "uid-empty", { code: 3, details: "plaintext is empty" }]]
      )
      assert.deepStrictEqual(
        served.lines.filter((line) => line === "KMS call failed"),
        ["KMS call failed"]
      )
    }).pipe(Effect.scoped)
  )

  it.live("the reported duration is in seconds and lies within the caller's own view of the call", () =>
    Effect.gen(function* () {
      const served = yield* inProcessPlugin()
      const { client } = served
      yield* client.v2Status // warm the connection
      for (let i = 0; i < 5; i++) {
        // Same process, same clock: the server's start and end lie between these two readings.
        const before = performance.now()
        yield* client.v2Encrypt({ plaintext: new Uint8Array(64) })
        const elapsedMillis = performance.now() - before
        const seconds = served.outcomes.at(-1)?.seconds ?? Number.NaN
        assert.isAtLeast(seconds, 0)
        assert.isAtMost(seconds * 1000, elapsedMillis + 1e-6)
        assert.isAbove(seconds, 0)
      }
    }).pipe(Effect.scoped)
  )
})
