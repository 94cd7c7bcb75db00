import { assert, describe, it } from "@effect/vitest"
import * as Clock from "effect/Clock"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as TestClock from "effect/testing/TestClock"
import * as fc from "fast-check"
import { makeSingleFlight } from "../../src/kms/SingleFlight.ts"

describe("SingleFlight", () => {
  it.live("concurrent calls with the same key run once; distinct keys run each; nothing is kept after", () =>
    Effect.promise(() =>
      fc.assert(
        fc.asyncProperty(fc.array(fc.integer({ min: 0, max: 4 }), { minLength: 1, maxLength: 40 }), async (keys) => {
          const runs = new Map<number, number>()
          await Effect.runPromise(
            Effect.scoped(
              Effect.gen(function* () {
                const flights = yield* makeSingleFlight<string, never>()
                const gate = yield* Deferred.make<void>()
                const fibers = yield* Effect.forEach(keys, (key) =>
                  Effect.forkChild(
                    flights.run(String(key), () =>
                      Effect.sync(() => runs.set(key, (runs.get(key) ?? 0) + 1)).pipe(
                        Effect.andThen(Deferred.await(gate)),
                        Effect.as(`answer-${key}`)
                      )
                    )
                  )
                )
                yield* Effect.yieldNow
                yield* Deferred.succeed(gate, undefined)
                const answers = yield* Fiber.joinAll(fibers)
                assert.deepStrictEqual(
                  answers,
                  keys.map((k) => `answer-${k}`)
                )
                assert.strictEqual(yield* flights.size, 0)
              })
            )
          )
          for (const key of new Set(keys)) assert.strictEqual(runs.get(key), 1)
        }),
        { numRuns: 50 }
      )
    )
  )

  it.live("one caller leaving does not cancel the flight for the others; the last one leaving does", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const flights = yield* makeSingleFlight<string, never>()
        const started = yield* Deferred.make<void>()
        const interrupted = yield* Deferred.make<void>()
        const forever = Deferred.succeed(started, undefined).pipe(
          Effect.andThen(Effect.never),
          Effect.onInterrupt(() => Deferred.succeed(interrupted, undefined))
        )
        const first = yield* Effect.forkChild(flights.run("k", () => forever))
        const second = yield* Effect.forkChild(flights.run("k", () => forever))
        yield* Deferred.await(started)
        yield* Effect.yieldNow
        yield* Fiber.interrupt(first)
        assert.isFalse(yield* Deferred.isDone(interrupted))
        assert.strictEqual(yield* flights.size, 1)
        yield* Fiber.interrupt(second)
        yield* Deferred.await(interrupted)
        assert.isTrue(Exit.isFailure(yield* Fiber.await(second)))
      })
    )
  )

  it.effect("a caller with a bound leaves at it; the flight goes on for a caller that waits it out", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const flights = yield* makeSingleFlight<string, string>()
        const gate = yield* Deferred.make<void>()
        const work = () => Effect.as(Deferred.await(gate), "answer")
        const bound = { due: (yield* Clock.currentTimeMillis) + 100, orElse: () => "gave up waiting" }
        const owner = yield* Effect.forkChild(flights.run("k", work), { startImmediately: true })
        const joiner = yield* Effect.forkChild(flights.run("k", work, bound), { startImmediately: true })
        yield* TestClock.adjust("1 second")
        assert.deepStrictEqual(yield* Fiber.await(joiner), Exit.fail("gave up waiting"))
        // The flight went on for its owner, past the bound.
        assert.strictEqual(yield* flights.size, 1)
        yield* Deferred.succeed(gate, undefined)
        assert.strictEqual(yield* Fiber.join(owner), "answer")
      })
    )
  )

  it.effect("a joiner whose flight lands within its bound gets the answer", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const flights = yield* makeSingleFlight<string, string>()
        const gate = yield* Deferred.make<void>()
        const work = () => Effect.as(Deferred.await(gate), "answer")
        const bound = { due: (yield* Clock.currentTimeMillis) + 100, orElse: () => "gave up waiting" }
        const owner = yield* Effect.forkChild(flights.run("k", work, bound), { startImmediately: true })
        const joiner = yield* Effect.forkChild(flights.run("k", work, bound), { startImmediately: true })
        yield* TestClock.adjust("99 millis")
        yield* Deferred.succeed(gate, undefined)
        assert.deepStrictEqual(yield* Fiber.joinAll([owner, joiner]), ["answer", "answer"])
      })
    )
  )

  it.effect("onJoin runs once per caller that joins a running flight, never for the one that starts it", () =>
    Effect.scoped(
      Effect.gen(function* () {
        let joins = 0
        const flights = yield* makeSingleFlight<string, never>(
          Effect.sync(() => {
            joins += 1
          })
        )
        const gate = yield* Deferred.make<void>()
        const work = () => Effect.as(Deferred.await(gate), "answer")
        const fibers = [yield* Effect.forkChild(flights.run("k", work), { startImmediately: true })]
        assert.strictEqual(joins, 0)
        fibers.push(yield* Effect.forkChild(flights.run("k", work), { startImmediately: true }))
        assert.strictEqual(joins, 1)
        fibers.push(yield* Effect.forkChild(flights.run("other", work), { startImmediately: true }))
        fibers.push(yield* Effect.forkChild(flights.run("k", work), { startImmediately: true }))
        assert.strictEqual(joins, 2)
        yield* Deferred.succeed(gate, undefined)
        assert.deepStrictEqual(yield* Fiber.joinAll(fibers), ["answer", "answer", "answer", "answer"])
      })
    )
  )

  it.effect("a flight that completes at once leaves nothing behind: the next call runs afresh", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const flights = yield* makeSingleFlight<number, never>()
        let runs = 0
        const count = () => Effect.sync(() => ++runs)
        assert.strictEqual(yield* flights.run("k", count), 1)
        assert.strictEqual(yield* flights.size, 0)
        assert.strictEqual(yield* flights.run("k", count), 2)
        assert.strictEqual(yield* flights.size, 0)
      })
    )
  )

  it.effect("the flight is told the latest due among the callers still waiting, as they come and go", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const flights = yield* makeSingleFlight<number, string>()
        const gate = yield* Deferred.make<void>()
        const start = yield* Clock.currentTimeMillis
        const seen: Array<number> = []
        let read: Effect.Effect<number> = Effect.succeed(0)
        const work = (due: Effect.Effect<number>) => {
          read = Effect.map(due, (d) => d - start)
          return Effect.as(Deferred.await(gate), 1)
        }
        const look = Effect.flatMap(
          Effect.suspend(() => read),
          (due) => Effect.sync(() => seen.push(due))
        )
        const caller = (due: number) => ({ due: start + due, orElse: () => `gave up at ${due}` })
        const owner = yield* Effect.forkChild(flights.run("k", work, caller(1_000)), { startImmediately: true })
        yield* look
        const later = yield* Effect.forkChild(flights.run("k", work, caller(5_000)), { startImmediately: true })
        yield* look
        const earlier = yield* Effect.forkChild(flights.run("k", work, caller(500)), { startImmediately: true })
        yield* look
        yield* Fiber.interrupt(later)
        yield* look
        yield* TestClock.adjust("600 millis")
        assert.deepStrictEqual(yield* Fiber.await(earlier), Exit.fail("gave up at 500"))
        yield* look
        assert.deepStrictEqual(seen, [1_000, 5_000, 5_000, 1_000, 1_000])
        yield* Deferred.succeed(gate, undefined)
        assert.strictEqual(yield* Fiber.join(owner), 1)
      })
    )
  )

  it.effect(
    "a caller whose due is the latest waits for the flight (bounded by it); once one with more time joins, it answers at its own due",
    () =>
      Effect.scoped(
        Effect.gen(function* () {
          const flights = yield* makeSingleFlight<string, string>()
          const start = yield* Clock.currentTimeMillis
          const interrupted = yield* Deferred.make<void>()
          // A flight that ends 50 ms after the due it is told (the real one ends by it).
          const late = (due: Effect.Effect<number>) => Effect.flatMap(due, (d) => Effect.as(Effect.sleep(d - start + 50), "late answer"))
          const alone = yield* Effect.forkChild(flights.run("a", late, { due: start + 100, orElse: () => "gave up" }), {
            startImmediately: true
          })
          yield* TestClock.adjust("200 millis")
          assert.deepStrictEqual(yield* Fiber.await(alone), Exit.succeed("late answer"))

          const now = yield* Clock.currentTimeMillis
          const never = () => Effect.onInterrupt(Effect.never, () => Deferred.succeed(interrupted, undefined))
          const first = yield* Effect.forkChild(flights.run("b", never, { due: now + 100, orElse: () => "first gave up" }), {
            startImmediately: true
          })
          yield* TestClock.adjust("50 millis")
          const second = yield* Effect.forkChild(flights.run("b", never, { due: now + 300, orElse: () => "second gave up" }), {
            startImmediately: true
          })
          assert.strictEqual(yield* flights.size, 1)
          yield* TestClock.adjust("50 millis")
          assert.deepStrictEqual(yield* Fiber.await(first), Exit.fail("first gave up"))
          assert.isFalse(yield* Deferred.isDone(interrupted))
          // The last caller gone, the flight is interrupted.
          yield* Fiber.interrupt(second)
          yield* Deferred.await(interrupted)
          assert.strictEqual(yield* flights.size, 0)
        })
      )
  )
})
