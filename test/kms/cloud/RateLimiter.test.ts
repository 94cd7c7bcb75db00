import { assert, describe, it } from "@effect/vitest"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Metric from "effect/Metric"
import * as TestClock from "effect/testing/TestClock"
import * as fc from "fast-check"
import {
  type BucketState,
  cut,
  cutCoalesceMillis,
  fullBucket,
  giveBack,
  makeRateLimiter,
  type RateLimit,
  recoveryStepMillis,
  reserve,
  slowestFraction
} from "../../../src/kms/cloud/RateLimiter.ts"
import { rateLimitRefusals, rateLimitSlowdowns, rateLimitWait } from "../../../src/observability/Metrics.ts"

// The client-side Cloud KMS rate limit: the bucket's arithmetic (pure, and
// as a property over any arrivals), then the limiter itself on TestClock:
// waits, refusals before a deadline, the slow-down every caller shares after
// RESOURCE_EXHAUSTED, and its recovery.

/** Runs `reserve` for arrivals in order; what each got, and when admitted ones start. */
const simulate = (limit: RateLimit, arrivals: ReadonlyArray<{ readonly at: number; readonly patience: number }>) => {
  let state: BucketState = fullBucket(limit, 0)
  return arrivals.map(({ at, patience }) => {
    const [decision, next] = reserve(state, limit, at, at + patience)
    state = next
    return { at, patience, decision, start: decision._tag === "Go" ? at + decision.waitMillis : undefined }
  })
}

describe("token bucket arithmetic", () => {
  it("a full bucket lets `burst` calls go at once; then one every 1/qps", () => {
    const limit = { qps: 10, burst: 3 }
    const got = simulate(
      limit,
      Array.from({ length: 6 }, () => ({ at: 0, patience: 10_000 }))
    )
    assert.deepStrictEqual(
      got.map((g) => g.start),
      [0, 0, 0, 100, 200, 300]
    )
  })

  it("refills at qps up to the burst, never beyond", () => {
    const limit = { qps: 4, burst: 2 }
    const [, drained] = reserve(reserve(fullBucket(limit, 0), limit, 0, 0)[1], limit, 0, 0)
    assert.strictEqual(drained.tokens, 0)
    const [first, afterQuiet] = reserve(drained, limit, 60_000, 60_000)
    assert.deepStrictEqual(first, { _tag: "Go", waitMillis: 0 })
    assert.strictEqual(afterQuiet.tokens, 1)
  })

  it("a call that would start after its latest start is refused at once and takes nothing", () => {
    const limit = { qps: 10, burst: 1 }
    const got = simulate(limit, [
      { at: 0, patience: 0 },
      { at: 0, patience: 50 },
      { at: 0, patience: 100 }
    ])
    assert.deepStrictEqual(
      got.map((g) => g.decision),
      [
        { _tag: "Go", waitMillis: 0 },
        { _tag: "Refused", reason: "limit", waitMillis: 100, qps: 10 },
        // The refused call reserved nothing: this one waits for the same token.
        { _tag: "Go", waitMillis: 100 }
      ]
    )
  })

  it("property: admitted calls never exceed burst + qps × window, never start after their latest start, and go in arrival order", () => {
    fc.assert(
      fc.property(
        fc.double({ min: 0.5, max: 500, noNaN: true }),
        fc.integer({ min: 1, max: 20 }),
        fc.array(fc.record({ gap: fc.integer({ min: 0, max: 300 }), patience: fc.integer({ min: 0, max: 3_000 }) }), { maxLength: 150 }),
        (qps, burst, steps) => {
          const limit = { qps, burst }
          let at = 0
          const arrivals = steps.map(({ gap, patience }) => {
            at += gap
            return { at, patience }
          })
          const got = simulate(limit, arrivals)
          const starts = got.flatMap((g) => (g.start === undefined ? [] : [g.start]))
          for (const g of got) {
            if (g.start !== undefined) assert.isAtMost(g.start, g.at + g.patience + 1e-6)
            // Refused only when the wait really was too long.
            if (g.decision._tag === "Refused") assert.isAbove(g.decision.waitMillis, g.patience)
          }
          for (let i = 1; i < starts.length; i++) assert.isAtLeast(starts[i] ?? 0, (starts[i - 1] ?? 0) - 1e-6)
          for (let i = 0; i < starts.length; i++) {
            for (let j = i; j < starts.length; j++) {
              const window = (starts[j] ?? 0) - (starts[i] ?? 0)
              assert.isAtMost(j - i + 1, burst + (qps * window) / 1000 + 1e-6)
            }
          }
        }
      ),
      { numRuns: 200 }
    )
  })

  it("a cut halves the rate and empties the bucket; cuts within a second are one; it stops at 1/32 of the limit", () => {
    const limit = { qps: 64, burst: 10 }
    const [first, once] = cut(fullBucket(limit, 0), limit, 0)
    assert.isTrue(first)
    assert.deepStrictEqual([once.tokens, once.rate * 1000], [0, 32])
    const [again, same] = cut(once, limit, cutCoalesceMillis - 1)
    assert.isFalse(again)
    assert.strictEqual(same.rate * 1000, 32)
    let state = once
    for (let i = 1; i <= 10; i++) state = cut(state, limit, i * cutCoalesceMillis)[1]
    assert.strictEqual(state.rate * 1000, 64 * slowestFraction)
  })

  it("after a cut the rate doubles back each recovery step without another, up to the limit", () => {
    const limit = { qps: 40, burst: 1 }
    const [, slowed] = cut(cut(fullBucket(limit, 0), limit, 0)[1], limit, cutCoalesceMillis)
    assert.strictEqual(slowed.rate * 1000, 10)
    const rateAt = (t: number) => reserve(slowed, limit, t, Number.POSITIVE_INFINITY)[1].rate * 1000
    assert.strictEqual(rateAt(cutCoalesceMillis + recoveryStepMillis - 1), 10)
    assert.strictEqual(rateAt(cutCoalesceMillis + recoveryStepMillis), 20)
    assert.strictEqual(rateAt(cutCoalesceMillis + 2 * recoveryStepMillis), 40)
    assert.strictEqual(rateAt(cutCoalesceMillis + 10 * recoveryStepMillis), 40)
    const [refused] = reserve(reserve(slowed, limit, cutCoalesceMillis, 0)[1], limit, cutCoalesceMillis, cutCoalesceMillis)
    assert.strictEqual(refused._tag === "Refused" ? refused.reason : "went", "backoff")
  })

  it("a token given back is there for the next call, never beyond the burst", () => {
    const limit = { qps: 10, burst: 2 }
    const [, reserved] = reserve(reserve(reserve(fullBucket(limit, 0), limit, 0, 0)[1], limit, 0, 0)[1], limit, 0, 1_000)
    assert.strictEqual(reserved.tokens, -1)
    assert.strictEqual(giveBack(reserved, limit, 0).tokens, 0)
    assert.strictEqual(giveBack(fullBucket(limit, 0), limit, 0).tokens, 2)
  })
})

describe("rate limiter on the Clock", () => {
  const counterOf = (metric: Metric.Metric<number, Metric.CounterState<number>>) => Effect.map(Metric.value(metric), (s) => s.count)
  const isDone = <A, E>(fiber: Fiber.Fiber<A, E>) => fiber.pollUnsafe() !== undefined

  it.effect("callers beyond the burst wait their turn, one every 1/qps, with no timer but their sleep", () =>
    Effect.gen(function* () {
      const limiter = yield* makeRateLimiter({ qps: 10, burst: 1 })
      const waitsBefore = (yield* Metric.value(rateLimitWait)).count
      const fibers = yield* Effect.forEach([0, 1, 2], () => Effect.forkChild(limiter.take(Number.MAX_SAFE_INTEGER)))
      yield* Effect.yieldNow
      assert.deepStrictEqual(fibers.map(isDone), [true, false, false])
      yield* TestClock.adjust(100)
      assert.deepStrictEqual(fibers.map(isDone), [true, true, false])
      yield* TestClock.adjust(100)
      assert.deepStrictEqual(fibers.map(isDone), [true, true, true])
      assert.strictEqual((yield* Metric.value(rateLimitWait)).count - waitsBefore, 3)
    })
  )

  it.effect("no token before the latest start: refused at once (RESOURCE_EXHAUSTED's reason 'limit'), and counted", () =>
    Effect.gen(function* () {
      const limiter = yield* makeRateLimiter({ qps: 10, burst: 1 })
      const refusedBefore = yield* counterOf(Metric.withAttributes(rateLimitRefusals, { reason: "limit" }))
      yield* limiter.take(0)
      const exit = yield* Effect.exit(limiter.take(50))
      assert.isTrue(Exit.isFailure(exit))
      const error = Exit.isFailure(exit) ? exit.cause.reasons.find((r) => r._tag === "Fail")?.error : undefined
      assert.deepStrictEqual(
        error === undefined ? undefined : { reason: error.reason, waitMillis: error.waitMillis, qps: error.qps, limit: error.limit },
        { reason: "limit", waitMillis: 100, qps: 10, limit: 10 }
      )
      assert.strictEqual((yield* counterOf(Metric.withAttributes(rateLimitRefusals, { reason: "limit" }))) - refusedBefore, 1)
    })
  )

  it.effect("a RESOURCE_EXHAUSTED answer slows every caller, once per event, then the rate recovers", () =>
    Effect.gen(function* () {
      const limiter = yield* makeRateLimiter({ qps: 10, burst: 1 })
      const cutsBefore = yield* counterOf(rateLimitSlowdowns)
      yield* limiter.pushBack
      yield* limiter.pushBack
      assert.strictEqual((yield* counterOf(rateLimitSlowdowns)) - cutsBefore, 1)
      // Bucket emptied, rate 5/s: the next two callers (any callers) go 200 ms apart.
      const a = yield* Effect.forkChild(limiter.take(Number.MAX_SAFE_INTEGER))
      const b = yield* Effect.forkChild(limiter.take(Number.MAX_SAFE_INTEGER))
      yield* TestClock.adjust(199)
      assert.deepStrictEqual([isDone(a), isDone(b)], [false, false])
      yield* TestClock.adjust(1)
      assert.deepStrictEqual([isDone(a), isDone(b)], [true, false])
      yield* TestClock.adjust(200)
      assert.isTrue(isDone(b))
      // A refusal while slowed says so.
      const refused = yield* Effect.flip(limiter.take(yield* Clock.currentTimeMillis))
      assert.deepStrictEqual([refused.reason, refused.waitMillis, refused.qps], ["backoff", 200, 5])
      // A recovery step later the rate is back to 10/s.
      yield* TestClock.adjust(recoveryStepMillis)
      yield* limiter.take(yield* Clock.currentTimeMillis)
      const next = yield* Effect.forkChild(limiter.take(Number.MAX_SAFE_INTEGER))
      yield* TestClock.adjust(100)
      assert.isTrue(isDone(next))
    })
  )

  it.effect("a caller that goes away while waiting gives its turn back", () =>
    Effect.gen(function* () {
      const limiter = yield* makeRateLimiter({ qps: 10, burst: 1 })
      yield* limiter.take(0)
      const leaving = yield* Effect.forkChild(limiter.take(Number.MAX_SAFE_INTEGER))
      yield* TestClock.adjust(50)
      yield* Fiber.interrupt(leaving)
      // Without the given-back token this caller would wait until 200 ms.
      const next = yield* Effect.forkChild(limiter.take(Number.MAX_SAFE_INTEGER))
      yield* TestClock.adjust(50)
      assert.isTrue(isDone(next))
    })
  )
})
