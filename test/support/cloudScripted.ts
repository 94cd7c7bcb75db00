import type * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type { RetryPolicy } from "../../src/config/PluginConfig.ts"

// Helpers for unit tests of the Cloud KMS backend core with scripted calls
// instead of a server: virtual time (a Clock whose sleeps advance it at
// once), a retry policy, and the error a gRPC call rejects with.

// Virtual time for these tests: a Clock of our own, moved only by the test
// (advance) or by a virtual sleep. The code under test reads time only from
// Effect's Clock, so nothing global (Date, performance) is faked.
let virtualMillis = 0

/** Starts virtual time afresh (before each test). */
export const useVirtualTime = (): void => {
  virtualMillis = 1_700_000_000_000
}

/** Now, in virtual time (ms since epoch). */
export const virtualNow = (): number => virtualMillis

/** Moves virtual time forward (a slow attempt, say). */
export const advance = (millis: number): void => {
  virtualMillis += millis
}

/**
 * A Clock on virtual time whose sleeps return at once, having moved time
 * forward by their duration plus `overshootMillis` (a process that wakes late).
 */
export const virtualClock = (overshootMillis = 0) => {
  const sleeps: Array<number> = []
  // Whole milliseconds and the rest apart: 1.7e18 ns is beyond a double's exact range.
  const nanos = () => BigInt(Math.trunc(virtualMillis)) * 1_000_000n + BigInt(Math.round((virtualMillis % 1) * 1_000_000))
  const clock: Clock.Clock = {
    currentTimeMillisUnsafe: () => virtualMillis,
    currentTimeMillis: Effect.sync(() => virtualMillis),
    currentTimeNanosUnsafe: nanos,
    currentTimeNanos: Effect.sync(nanos),
    monotonicTimeNanosUnsafe: nanos,
    monotonicTimeNanos: Effect.sync(nanos),
    sleep: (duration) =>
      Effect.andThen(
        Effect.sync(() => {
          const millis = Duration.toMillis(duration)
          sleeps.push(millis)
          advance(millis + overshootMillis)
        }),
        Effect.yieldNow
      )
  }
  return { clock, sleeps }
}

export const testPolicy = (overrides: Partial<RetryPolicy> = {}): RetryPolicy => ({
  maxAttempts: 5,
  initialBackoffMillis: 10,
  maxBackoffMillis: 100,
  attemptTimeoutMillis: 300,
  callTimeoutMillis: 5_000,
  ...overrides
})

/** What a gRPC call rejects with (a grpc-js ServiceError has these fields). */
export const grpcError = (code: number, details: string) => Object.assign(new Error(details), { code, details })
