import * as fs from "node:fs"
import { assert, describe, it } from "@effect/vitest"
import { status } from "@grpc/grpc-js"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import { inProcessPlugin } from "../support/InProcessPlugin.ts"
import { stuckKms } from "../support/kmsDoubles.ts"

// Shutdown of the gRPC server: in-flight calls get the grace period, then are
// cut (and the exit code says so); the socket goes away even on a forced exit.

describe("gRPC server shutdown", () => {
  it.live("a call still running after the grace period is cut, the shutdown is marked forced, and the socket removed", () =>
    Effect.gen(function* () {
      const started = yield* Deferred.make<void>()
      const interrupted = yield* Deferred.make<void>()
      const served = yield* inProcessPlugin({
        backend: stuckKms(started, interrupted),
        flags: { shutdownGracePeriod: Option.some("50ms") },
        clientTimeoutMillis: 600_000
      })
      const { client } = served
      const call = yield* Effect.forkChild(Effect.flip(client.v2Encrypt({ plaintext: new Uint8Array([1]) })))
      yield* Deferred.await(started)
      yield* served.stop
      assert.strictEqual(yield* served.shutdown.forcedReason, "in-flight calls still running after the 50ms grace period")
      const tail = served.lines.slice(served.lines.indexOf("shutting down: no new connections, waiting for in-flight calls"))
      assert.deepStrictEqual(tail, [
        "shutting down: no new connections, waiting for in-flight calls",
        "grace period exceeded: cut the remaining calls",
        `stopped serving on ${served.socketPath}`
      ])
      assert.isFalse(fs.existsSync(served.socketPath))
      // The cut call's fiber is interrupted (no KMS work left behind) and the caller gets an error.
      yield* Deferred.await(interrupted)
      const failure = yield* Fiber.join(call)
      assert.notStrictEqual(failure.code, status.OK)
    }).pipe(Effect.scoped)
  )

  it.live("calls that finish in time: no forced shutdown and no warning", () =>
    Effect.gen(function* () {
      const served = yield* inProcessPlugin({ flags: { shutdownGracePeriod: Option.some("10s") } })
      const { client } = served
      yield* client.v2Status
      yield* served.stop
      assert.isUndefined(yield* served.shutdown.forcedReason)
      assert.notInclude(served.lines, "grace period exceeded: cut the remaining calls")
      assert.include(served.lines, `stopped serving on ${served.socketPath}`)
    }).pipe(Effect.scoped)
  )

  it.live("while serving, a process exit hook removes the socket; after a normal stop the hook is gone", () =>
    Effect.gen(function* () {
      const before = process.listeners("exit")
      const served = yield* inProcessPlugin()
      const added = process.listeners("exit").filter((listener) => !before.includes(listener))
      assert.strictEqual(added.length, 1)
      assert.isTrue(fs.lstatSync(served.socketPath).isSocket())
      // What a forced exit (second signal) runs: the socket must go.
      for (const hook of added) hook(1)
      assert.isFalse(fs.existsSync(served.socketPath))
      yield* served.stop
      assert.deepStrictEqual(
        process.listeners("exit").filter((listener) => !before.includes(listener)),
        []
      )
    }).pipe(Effect.scoped)
  )
})
