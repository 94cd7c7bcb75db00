import { assert, beforeEach, describe, it } from "@effect/vitest"
import { status } from "@grpc/grpc-js"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Result from "effect/Result"
import * as fc from "fast-check"
import type { RetryPolicy } from "../../../src/config/PluginConfig.ts"
import type { AttemptLimits } from "../../../src/kms/cloud/CloudKmsClient.ts"
import { answerMarginFor, answerMarginMillis } from "../../../src/kms/cloud/Deadline.ts"
import { retryingCall } from "../../../src/kms/cloud/RetryingCall.ts"
import { advance, grpcError, testPolicy, useVirtualTime, virtualClock, virtualNow } from "../../support/cloudScripted.ts"
import { attempt } from "../../support/cloudScriptedApi.ts"
import { capturingLogs } from "../../support/logCapture.ts"

// How one Cloud KMS call is bounded by the caller's deadline: each attempt's
// own timeout, the time kept back for the answer, and when we stop retrying.
// Time is virtual (faked Date, sleeps that return at once), so the bounds
// are exact and nothing waits.

const resource = "projects/p/locations/l/keyRings/r/cryptoKeys/k"

beforeEach(useVirtualTime)

interface Scripted {
  readonly limits: Array<AttemptLimits>
  readonly logs: ReturnType<typeof capturingLogs>
  readonly outcome: Effect.Effect<string, { readonly _tag: string; readonly message: string }>
}

/** A call whose attempts run `script(attempt number)`; the clock may wake late from backoffs. */
const scripted = (
  policy: RetryPolicy,
  deadline: number | undefined,
  script: (attempt: number) => Promise<string>,
  overshootMillis = 0
): Scripted => {
  const limits: Array<AttemptLimits> = []
  const logs = capturingLogs()
  const { clock } = virtualClock(overshootMillis)
  const outcome = retryingCall(
    policy,
    { deadline },
    {
      operation: "encrypt",
      resource,
      send: (limits_) =>
        attempt(() => {
          limits.push(limits_)
          return script(limits.length)
        }),
      verify: (response: string) => Result.succeed(response)
    }
  ).pipe(logs.provide, Effect.provideService(Clock.Clock, clock))
  return { limits, logs, outcome }
}

const unavailable = () => Promise.reject(grpcError(status.UNAVAILABLE, "down"))

describe("answer margin", () => {
  it("is 100 ms, or a tenth of the call's budget when that is more", () => {
    assert.strictEqual(answerMarginFor(500), answerMarginMillis)
    assert.strictEqual(answerMarginFor(1_000), 100)
    assert.strictEqual(answerMarginFor(5_000), 500)
    fc.assert(
      fc.property(fc.double({ min: 0, max: 1e9, noNaN: true }), (budget) => {
        const margin = answerMarginFor(budget)
        return margin >= answerMarginMillis && margin >= budget / 10 && (margin === answerMarginMillis || margin === budget / 10)
      })
    )
  })
})

describe("attempt bounds", () => {
  it.live("an attempt's timeout is the attempt timeout, or what is left before the margin, whichever is less", () =>
    Effect.gen(function* () {
      const now = virtualNow()
      const plenty = scripted(testPolicy({ attemptTimeoutMillis: 300 }), now + 10_000, () => Promise.resolve("ok"))
      assert.strictEqual(yield* plenty.outcome, "ok")
      assert.deepStrictEqual(
        plenty.limits.map((l) => l.timeoutMillis),
        [300]
      )
      // 1 s budget: 100 ms margin, 900 ms left.
      const short = scripted(testPolicy({ attemptTimeoutMillis: 5_000 }), now + 1_000, () => Promise.resolve("ok"))
      yield* short.outcome
      assert.deepStrictEqual(
        short.limits.map((l) => l.timeoutMillis),
        [900]
      )
      // Whole milliseconds: 1234 - 123.4 = 1110.6.
      const odd = scripted(testPolicy({ attemptTimeoutMillis: 5_000 }), now + 1_234, () => Promise.resolve("ok"))
      yield* odd.outcome
      assert.deepStrictEqual(
        odd.limits.map((l) => l.timeoutMillis),
        [1_110]
      )
    })
  )

  it.live("property: the first attempt's timeout is floor(min(attempt timeout, budget - margin))", () =>
    Effect.promise(() =>
      fc.assert(
        fc.asyncProperty(
          fc.integer({ min: 150, max: 1_000_000 }),
          fc.integer({ min: 1, max: 100_000 }),
          async (budget, attemptTimeoutMillis) => {
            const run = scripted(testPolicy({ attemptTimeoutMillis }), virtualNow() + budget, () => Promise.resolve("ok"))
            await Effect.runPromise(run.outcome)
            assert.deepStrictEqual(
              run.limits.map((l) => l.timeoutMillis),
              [Math.floor(Math.min(attemptTimeoutMillis, budget - answerMarginFor(budget)))]
            )
          }
        ),
        { numRuns: 50 }
      )
    )
  )

  it.live("without a caller deadline the call is bounded by --kms-call-timeout", () =>
    Effect.gen(function* () {
      // 5 s call timeout: 500 ms margin, 4500 ms left for the attempt.
      const run = scripted(testPolicy({ attemptTimeoutMillis: 60_000, callTimeoutMillis: 5_000 }), undefined, () => Promise.resolve("ok"))
      yield* run.outcome
      assert.deepStrictEqual(
        run.limits.map((l) => l.timeoutMillis),
        [4_500]
      )
    })
  )

  it.live("an attempt shorter than 50 ms is not made: DeadlineExceeded names the operation and resource", () =>
    Effect.gen(function* () {
      const now = virtualNow()
      // 149 ms budget: 100 ms margin leaves 49 ms.
      const tooShort = scripted(testPolicy(), now + 149, () => Promise.resolve("ok"))
      const error = yield* Effect.flip(tooShort.outcome)
      assert.strictEqual(error._tag, "DeadlineExceeded")
      assert.strictEqual(error.message, `no time left on the caller's deadline to call Cloud KMS encrypt on ${resource}`)
      assert.strictEqual(tooShort.limits.length, 0)
      const past = scripted(testPolicy(), now - 1_000, () => Promise.resolve("ok"))
      assert.strictEqual((yield* Effect.flip(past.outcome))._tag, "DeadlineExceeded")
      assert.strictEqual(past.limits.length, 0)
      // 150 ms budget leaves exactly 50 ms: one attempt of 50 ms.
      const justEnough = scripted(testPolicy(), now + 150, () => Promise.resolve("ok"))
      assert.strictEqual(yield* justEnough.outcome, "ok")
      assert.deepStrictEqual(
        justEnough.limits.map((l) => l.timeoutMillis),
        [50]
      )
    })
  )
})

describe("retries within the deadline", () => {
  it.live("no retry when the next backoff, a 50 ms attempt and the margin no longer fit before the deadline", () =>
    Effect.gen(function* () {
      // 1 s budget, 100 ms margin. The first attempt takes 830 ms: a 8-12 ms
      // backoff + 50 + 100 still fits (<= 992 ms). The second fails at once:
      // a 16-24 ms backoff + 50 + 100 no longer does (>= 1004 ms).
      const run = scripted(testPolicy({ initialBackoffMillis: 10, maxBackoffMillis: 1_000 }), virtualNow() + 1_000, (attempt) => {
        if (attempt === 1) advance(830)
        return unavailable()
      })
      const error = yield* Effect.flip(run.outcome)
      assert.strictEqual(error._tag, "KmsUnavailable")
      assert.strictEqual(error.message, `Cloud KMS encrypt on ${resource}: UNAVAILABLE: down`)
      assert.strictEqual(run.limits.length, 2)
      assert.deepStrictEqual(run.logs.messages(), ["retrying Cloud KMS encrypt after UNAVAILABLE"])
    })
  )

  it.live("when a late wake-up leaves no time for another attempt, the answer is the last attempt's error, not a deadline error", () =>
    Effect.gen(function* () {
      // The backoff is due at ~10 ms but the process wakes 850 ms late: 40 ms left.
      const run = scripted(testPolicy(), virtualNow() + 1_000, unavailable, 850)
      const error = yield* Effect.flip(run.outcome)
      assert.strictEqual(error._tag, "KmsUnavailable")
      assert.strictEqual(error.message, `Cloud KMS encrypt on ${resource}: UNAVAILABLE: down`)
      assert.strictEqual(run.limits.length, 1)
    })
  )

  it.live("attempts that time out end in KmsUnavailable saying how long the last one waited", () =>
    Effect.gen(function* () {
      const run = scripted(testPolicy({ maxAttempts: 2, attemptTimeoutMillis: 300 }), virtualNow() + 10_000, () =>
        Promise.reject(grpcError(status.DEADLINE_EXCEEDED, "Deadline exceeded"))
      )
      const error = yield* Effect.flip(run.outcome)
      assert.strictEqual(error._tag, "KmsUnavailable")
      assert.strictEqual(error.message, `Cloud KMS encrypt on ${resource}: no answer to any attempt (the last waited 300ms)`)
      assert.deepStrictEqual(run.logs.messages(), ["retrying Cloud KMS encrypt after ATTEMPT_TIMEOUT"])
    })
  )
})
