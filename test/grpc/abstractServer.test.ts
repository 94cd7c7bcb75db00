import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { abstractAnswers, abstractName } from "../support/abstractSocket.ts"
import { inProcessPlugin } from "../support/InProcessPlugin.ts"

// The whole server on a Linux abstract socket: it says so, serves, and on
// release stops listening (grpc-js does not own that listener, we do).

describe("gRPC server on an abstract socket", () => {
  it.live("serves on @name, logs it as abstract, and refuses connections once released", () =>
    Effect.gen(function* () {
      const name = abstractName("server")
      const served = yield* inProcessPlugin({ socketPath: name })
      assert.strictEqual(served.target, `unix:\u0000${name.slice(1)}`)
      assert.include(served.lines, `serving KMS v2 and v1beta1 on unix:${name} (abstract)`)
      const { client } = served
      assert.strictEqual((yield* client.v2Status).healthz, "ok")
      yield* served.stop
      assert.include(served.lines, `stopped serving on ${name}`)
      assert.strictEqual(yield* abstractAnswers(name), "ECONNREFUSED")
    }).pipe(Effect.scoped)
  )
})
