import { assert, describe, it } from "@effect/vitest"
import * as grpc from "@grpc/grpc-js"
import * as Effect from "effect/Effect"
import { inProcessPlugin } from "../support/InProcessPlugin.ts"

// grpc-js would print its own unstructured lines on stderr; a running server
// must have silenced them (its failures reach our log in our format instead).

describe("grpc-js's own logging", () => {
  it.live("is switched off once the server is up", () =>
    Effect.gen(function* () {
      const printed: Array<string> = []
      const capture = (...args: ReadonlyArray<unknown>) => void printed.push(args.map(String).join(" "))
      yield* Effect.acquireRelease(
        Effect.sync(() => grpc.setLogger({ error: capture, info: capture, debug: capture })),
        () => Effect.sync(() => grpc.setLogger(console))
      )
      grpc.setLogVerbosity(grpc.logVerbosity.DEBUG)
      grpc.experimental.log(grpc.logVerbosity.ERROR, "before the server")
      // The capture works: without the server's setting this line is printed.
      assert.strictEqual(printed.length, 1)
      yield* inProcessPlugin()
      grpc.experimental.log(grpc.logVerbosity.ERROR, "after the server")
      assert.strictEqual(printed.length, 1)
    }).pipe(Effect.scoped)
  )
})
