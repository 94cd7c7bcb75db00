import { vi } from "vitest"
import type * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Logger from "effect/Logger"
import * as References from "effect/References"
import type { RetryPolicy } from "../../src/config/PluginConfig.ts"

// Helpers for unit tests of the Cloud KMS backend core with scripted calls
// instead of a server: virtual time (Date and performance are faked, and a
// Clock whose sleeps advance them at once), and a log capture.

export interface LogLine {
  readonly message: string
  readonly level: string
  readonly annotations: Readonly<Record<string, unknown>>
}

/** A logger that keeps every line it is given in `lines`. */
export const lineCollector = () => {
  const lines: Array<LogLine> = []
  const capture = Logger.make((options) => {
    lines.push({
      message: Array.isArray(options.message) ? options.message.join(" ") : String(options.message),
      level: options.logLevel,
      annotations: { ...options.fiber.getRef(References.CurrentLogAnnotations) }
    })
  })
  return { lines, capture }
}

/** A logger keeping every line (Debug included) of the effect it is provided to. */
export const capturingLogs = () => {
  const { lines, capture } = lineCollector()
  const provide = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
    effect.pipe(Effect.provide(Logger.layer([capture])), Effect.provideService(References.MinimumLogLevel, "Debug"))
  return { lines, provide, messages: () => lines.map((line) => line.message) }
}

/** Fakes Date and performance (not timers): time moves only when a test or a virtual sleep moves it. */
export const useVirtualTime = (): void => {
  vi.useFakeTimers({ toFake: ["Date", "performance"], now: 1_700_000_000_000 })
}

export const useRealTime = (): void => {
  vi.useRealTimers()
}

/** Moves the faked Date and performance.now() forward. */
export const advance = (millis: number): void => {
  vi.advanceTimersByTime(millis)
}

/**
 * A Clock on the faked time whose sleeps return at once, having moved time
 * forward by their duration plus `overshootMillis` (a process that wakes late).
 */
export const virtualClock = (overshootMillis = 0) => {
  const sleeps: Array<number> = []
  const clock: Clock.Clock = {
    currentTimeMillisUnsafe: () => Date.now(),
    currentTimeMillis: Effect.sync(() => Date.now()),
    currentTimeNanosUnsafe: () => BigInt(Date.now()) * 1_000_000n,
    currentTimeNanos: Effect.sync(() => BigInt(Date.now()) * 1_000_000n),
    monotonicTimeNanosUnsafe: () => BigInt(Math.round(performance.now() * 1_000_000)),
    monotonicTimeNanos: Effect.sync(() => BigInt(Math.round(performance.now() * 1_000_000))),
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
