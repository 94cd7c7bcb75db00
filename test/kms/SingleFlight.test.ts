import { assert, describe, it } from "@effect/vitest"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as fc from "fast-check"
import { makeSingleFlight } from "../../src/kms/SingleFlight.ts"

describe("SingleFlight", () => {
  it.live("concurrent calls with the same key run once; distinct keys run each; nothing is kept after", () =>
    Effect.promise(() =>
      fc.assert(fc.asyncProperty(fc.array(fc.integer({ min: 0, max: 4 }), { minLength: 1, maxLength: 40 }), async (keys) => {
        const runs = new Map<number, number>()
        await Effect.runPromise(Effect.scoped(Effect.gen(function*() {
          const flights = makeSingleFlight<string, never>(yield* Effect.scope)
          const gate = yield* Deferred.make<void>()
          const fibers = yield* Effect.forEach(keys, (key) =>
            Effect.forkChild(flights.run(String(key), Effect.sync(() => runs.set(key, (runs.get(key) ?? 0) + 1)).pipe(
              Effect.andThen(Deferred.await(gate)),
              Effect.as(`answer-${key}`)
            ))))
          yield* Effect.yieldNow
          yield* Deferred.succeed(gate, undefined)
          const answers = yield* Fiber.joinAll(fibers)
          assert.deepStrictEqual(answers, keys.map((k) => `answer-${k}`))
          assert.strictEqual(flights.size(), 0)
        })))
        for (const key of new Set(keys)) assert.strictEqual(runs.get(key), 1)
      }), { numRuns: 50 })
    ))

  it.live("one caller leaving does not cancel the flight for the others; the last one leaving does", () =>
    Effect.scoped(Effect.gen(function*() {
      const flights = makeSingleFlight<string, never>(yield* Effect.scope)
      const started = yield* Deferred.make<void>()
      const interrupted = yield* Deferred.make<void>()
      const forever = Deferred.succeed(started, undefined).pipe(
        Effect.andThen(Effect.never),
        Effect.onInterrupt(() => Deferred.succeed(interrupted, undefined))
      )
      const first = yield* Effect.forkChild(flights.run("k", forever))
      const second = yield* Effect.forkChild(flights.run("k", forever))
      yield* Deferred.await(started)
      yield* Effect.yieldNow
      yield* Fiber.interrupt(first)
      assert.isFalse(yield* Deferred.isDone(interrupted))
      assert.strictEqual(flights.size(), 1)
      yield* Fiber.interrupt(second)
      yield* Deferred.await(interrupted)
      assert.isTrue(Exit.isFailure(yield* Fiber.await(second)))
    })))
})
