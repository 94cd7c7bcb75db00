import { assert, describe, it } from "@effect/vitest"
import { status } from "@grpc/grpc-js"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import { inProcessPlugin } from "../support/InProcessPlugin.ts"
import { stuckKms } from "../support/kmsDoubles.ts"

// A caller that gives up must not leave its KMS call running: the cancelled
// gRPC call interrupts the handler's fiber, and the outcome says CANCELLED.

describe("cancelled calls", () => {
  it.live("the client cancelling an in-flight Encrypt interrupts the KMS call, reported as CANCELLED", () =>
    Effect.gen(function* () {
      const started = yield* Deferred.make<void>()
      const interrupted = yield* Deferred.make<void>()
      const served = yield* inProcessPlugin({ backend: stuckKms(started, interrupted), clientTimeoutMillis: 600_000 })
      const { client } = served
      const call = yield* Effect.forkChild(client.v2Encrypt({ plaintext: new Uint8Array([1]), uid: "gives-up" }))
      yield* Deferred.await(started)
      yield* Fiber.interrupt(call)
      // Waits on the event itself: without the cancel hook this never completes.
      yield* Deferred.await(interrupted)
      const outcomes = yield* served.awaitOutcomes(1)
      assert.deepStrictEqual(
        outcomes.map((o) => [o.method.name, o.uid, o.failure?.code]),
        [["Encrypt", "gives-up", status.CANCELLED]]
      )
    }).pipe(Effect.scoped)
  )
})
