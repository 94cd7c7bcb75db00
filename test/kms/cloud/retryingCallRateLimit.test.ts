import { assert, beforeEach, describe, it } from "@effect/vitest"
import { status } from "@grpc/grpc-js"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Metric from "effect/Metric"
import * as Result from "effect/Result"
import { makeRateLimiter, type RateLimiter } from "../../../src/kms/cloud/RateLimiter.ts"
import { retryingCall } from "../../../src/kms/cloud/RetryingCall.ts"
import { rateLimitSlowdowns } from "../../../src/observability/Metrics.ts"
import { grpcError, testPolicy, useVirtualTime, virtualClock, virtualNow } from "../../support/cloudScripted.ts"
import { attempt } from "../../support/cloudScriptedApi.ts"

// A Cloud KMS call under the client-side rate limit: every attempt (retries
// too) takes a token; one that cannot get it before the answer is due is not
// sent and the caller hears RESOURCE_EXHAUSTED naming our limit at once; a
// RESOURCE_EXHAUSTED from Cloud KMS slows the limit for everyone. Virtual
// time: sleeps return at once, having moved the clock.

const resource = "projects/p/locations/l/keyRings/r/cryptoKeys/k"

beforeEach(useVirtualTime)

const callWith = (limiter: RateLimiter, deadline: number, script: (attempt: number) => Promise<string>) => {
  let sent = 0
  const call = retryingCall(
    testPolicy({ maxAttempts: 3 }),
    { deadline },
    {
      operation: "decrypt",
      resource,
      send: () => attempt(() => script(++sent)),
      verify: (answer: string) => Result.succeed(answer),
      limiter
    }
  )
  return { call, sent: () => sent }
}

describe("Cloud KMS calls under --kms-qps-limit", () => {
  it.live("within the limit, calls go; beyond it, a call that cannot start before its answer is due is refused at once, unsent", () =>
    Effect.gen(function* () {
      const limiter = yield* makeRateLimiter({ qps: 1, burst: 1 })
      const first = callWith(limiter, virtualNow() + 1_000, () => Promise.resolve("ok"))
      assert.strictEqual(yield* first.call, "ok")
      const startedAt = virtualNow()
      const second = callWith(limiter, virtualNow() + 1_000, () => Promise.resolve("ok"))
      const error = yield* Effect.flip(second.call)
      assert.strictEqual(second.sent(), 0)
      assert.strictEqual(virtualNow(), startedAt, "refused without waiting")
      assert.strictEqual(error._tag, "QuotaExhausted")
      assert.match(
        error.message,
        /^Cloud KMS decrypt on .* not sent: the client-side rate limit \(--kms-qps-limit 1\/s\) had no turn for it before the caller's deadline \(it would have waited 1000ms\)/
      )
      // A caller with more time waits its turn instead.
      const patient = callWith(limiter, virtualNow() + 5_000, () => Promise.resolve("ok"))
      assert.strictEqual(yield* patient.call, "ok")
      assert.isAtLeast(virtualNow() - startedAt, 1_000)
    }).pipe(Effect.provideService(Clock.Clock, virtualClock().clock))
  )

  it.live("RESOURCE_EXHAUSTED from Cloud KMS halves the limit once, and the retry waits for a token at the new rate", () =>
    Effect.gen(function* () {
      const limiter = yield* makeRateLimiter({ qps: 10, burst: 10 })
      const cutsBefore = (yield* Metric.value(rateLimitSlowdowns)).count
      const start = virtualNow()
      const exhaustedOnce = callWith(limiter, virtualNow() + 10_000, (n) =>
        n === 1 ? Promise.reject(grpcError(status.RESOURCE_EXHAUSTED, "quota")) : Promise.resolve("ok")
      )
      assert.strictEqual(yield* exhaustedOnce.call, "ok")
      assert.strictEqual(exhaustedOnce.sent(), 2)
      assert.strictEqual((yield* Metric.value(rateLimitSlowdowns)).count - cutsBefore, 1)
      // The cut emptied the bucket; at 5/s the retry's token came 200 ms later (beyond the backoff).
      assert.isAtLeast(virtualNow() - start, 200)
    }).pipe(Effect.provideService(Clock.Clock, virtualClock().clock))
  )

  it.live("a retry refused by the limit names both the limit and the failure before it", () =>
    Effect.gen(function* () {
      const limiter = yield* makeRateLimiter({ qps: 1, burst: 1 })
      const call = callWith(limiter, virtualNow() + 1_000, () => Promise.reject(grpcError(status.UNAVAILABLE, "down")))
      const error = yield* Effect.flip(call.call)
      assert.strictEqual(call.sent(), 1)
      assert.strictEqual(error._tag, "QuotaExhausted")
      assert.include(error.message, "--kms-qps-limit 1/s")
      assert.include(
        error.message,
        "the attempt before it: Cloud KMS decrypt on projects/p/locations/l/keyRings/r/cryptoKeys/k: UNAVAILABLE: down"
      )
    }).pipe(Effect.provideService(Clock.Clock, virtualClock().clock))
  )
})
