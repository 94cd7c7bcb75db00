import { assert, beforeEach, describe, it } from "@effect/vitest"
import { status } from "@grpc/grpc-js"
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Metric from "effect/Metric"
import * as Result from "effect/Result"
import * as fc from "fast-check"
import type { RetryPolicy } from "../../../src/config/PluginConfig.ts"
import { IntegrityMismatch, rpcFailedOf } from "../../../src/kms/cloud/CloudKmsErrors.ts"
import { retryingCall } from "../../../src/kms/cloud/RetryingCall.ts"
import { cloudKmsCalls, cloudKmsDuration, cloudKmsRetries, integrityFailures } from "../../../src/observability/Metrics.ts"
import { advance, grpcError, testPolicy, useVirtualTime, virtualClock, virtualNow } from "../../support/cloudScripted.ts"
import { attempt } from "../../support/cloudScriptedApi.ts"
import { capturingLogs } from "../../support/logCapture.ts"

// What each attempt of a Cloud KMS call leaves behind: how many attempts,
// the backoff between them, the debug line per retry, and the per-attempt
// metrics (outcome, duration, integrity failures). Scripted attempts on
// virtual time: nothing waits.

const resource = "projects/p/locations/l/keyRings/r/cryptoKeys/k/cryptoKeyVersions/3"

beforeEach(useVirtualTime)

type Answer = { readonly ok: string } | { readonly mismatch: string }

/** Runs one decrypt call against scripted attempts, in its own metric registry. */
const run = (policy: RetryPolicy, script: (attempt: number) => Promise<Answer>) =>
  Effect.gen(function* () {
    let attempts = 0
    const logs = capturingLogs()
    const { clock, sleeps } = virtualClock()
    const registry = new Map()
    const exit = yield* retryingCall(
      policy,
      { deadline: virtualNow() + 60_000 },
      {
        operation: "decrypt",
        resource,
        send: () => attempt(() => script(++attempts)),
        verify: (answer: Answer) =>
          "ok" in answer ? Result.succeed(answer.ok) : Result.fail(new IntegrityMismatch({ check: answer.mismatch }))
      }
    ).pipe(Effect.exit, logs.provide, Effect.provideService(Clock.Clock, clock), Effect.provideService(Metric.MetricRegistry, registry))
    const read = <S>(metric: Metric.Metric<number, S>) => Effect.provideService(Metric.value(metric), Metric.MetricRegistry, registry)
    const outcome = (outcome: string) =>
      Effect.map(read(Metric.withAttributes(cloudKmsCalls, { operation: "decrypt", outcome })), (state) => state.count)
    const labels = { operation: "decrypt" }
    return {
      exit,
      attempts,
      logs,
      sleeps,
      outcome,
      retries: Effect.map(read(Metric.withAttributes(cloudKmsRetries, labels)), (state) => state.count),
      mismatches: Effect.map(read(Metric.withAttributes(integrityFailures, labels)), (state) => state.count),
      duration: read(Metric.withAttributes(cloudKmsDuration, labels))
    }
  })

const failWith = (code: number) => () => Promise.reject(grpcError(code, `injected ${status[code] ?? code}`))

describe("attempts and retries", () => {
  it.live("property: a persistent transient failure is attempted exactly --kms-max-attempts times", () =>
    Effect.promise(() =>
      fc.assert(
        fc.asyncProperty(fc.integer({ min: 1, max: 8 }), async (maxAttempts) => {
          const result = await Effect.runPromise(run(testPolicy({ maxAttempts }), failWith(status.UNAVAILABLE)))
          assert.strictEqual(result.attempts, maxAttempts)
          assert.strictEqual(await Effect.runPromise(result.retries), maxAttempts - 1)
        }),
        { numRuns: 16 }
      )
    )
  )

  it.live("each retry logs one debug line naming the operation, the failure, the resource and the delay", () =>
    Effect.gen(function* () {
      const result = yield* run(testPolicy({ maxAttempts: 3 }), failWith(status.UNAVAILABLE))
      assert.isTrue(Exit.isFailure(result.exit))
      assert.deepStrictEqual(
        result.logs.lines.map((l) => [l.message, l.level, l.annotations.resource]),
        [
          ["retrying Cloud KMS decrypt after UNAVAILABLE", "Debug", resource],
          ["retrying Cloud KMS decrypt after UNAVAILABLE", "Debug", resource]
        ]
      )
      assert.deepStrictEqual(
        result.logs.lines.map((l) => l.annotations.delayMs),
        result.sleeps.map(Math.round)
      )
    })
  )

  it.live("backoff doubles from --kms-retry-initial-backoff (±20 % jitter) and is capped by --kms-retry-max-backoff", () =>
    Effect.gen(function* () {
      const result = yield* run(
        testPolicy({ maxAttempts: 5, initialBackoffMillis: 10, maxBackoffMillis: 25 }),
        failWith(status.UNAVAILABLE)
      )
      const [first, second, third, fourth] = result.sleeps
      assert.strictEqual(result.sleeps.length, 4)
      assert.isTrue(first !== undefined && first >= 8 && first <= 12, `first backoff ${first}`)
      assert.isTrue(second !== undefined && second >= 16 && second <= 24, `second backoff ${second}`)
      for (const capped of [third, fourth]) assert.isTrue(capped !== undefined && capped >= 20 && capped <= 30, `capped backoff ${capped}`)
    })
  )

  it.live("a non-transient failure is not retried, and counts under its gRPC code name (or the number if it has none)", () =>
    Effect.gen(function* () {
      const denied = yield* run(testPolicy(), failWith(status.PERMISSION_DENIED))
      assert.strictEqual(denied.attempts, 1)
      assert.deepStrictEqual(denied.logs.lines, [])
      assert.strictEqual(yield* denied.outcome("PERMISSION_DENIED"), 1)
      assert.strictEqual(yield* denied.retries, 0)
      const strange = yield* run(testPolicy(), failWith(99))
      assert.strictEqual(strange.attempts, 1)
      assert.strictEqual(yield* strange.outcome("99"), 1)
    })
  )

  it.live("a response failing its integrity check is retried, counted as INTEGRITY, and never returned", () =>
    Effect.gen(function* () {
      const result = yield* run(testPolicy(), (attempt) =>
        Promise.resolve(attempt === 1 ? { mismatch: "plaintext CRC32C" } : { ok: "plaintext" })
      )
      assert.deepStrictEqual(result.exit, Exit.succeed("plaintext"))
      assert.deepStrictEqual(result.logs.messages(), ["retrying Cloud KMS decrypt after INTEGRITY"])
      assert.strictEqual(yield* result.outcome("INTEGRITY"), 1)
      assert.strictEqual(yield* result.outcome("OK"), 1)
      assert.strictEqual(yield* result.mismatches, 1)
    })
  )

  it.live("attempt outcomes are counted one by one: UNAVAILABLE, ATTEMPT_TIMEOUT, then OK; no integrity failure", () =>
    Effect.gen(function* () {
      const result = yield* run(testPolicy(), (attempt) =>
        attempt === 1
          ? failWith(status.UNAVAILABLE)()
          : attempt === 2
            ? failWith(status.DEADLINE_EXCEEDED)()
            : Promise.resolve({ ok: "plaintext" })
      )
      assert.deepStrictEqual(result.exit, Exit.succeed("plaintext"))
      assert.deepStrictEqual(result.logs.messages(), [
        "retrying Cloud KMS decrypt after UNAVAILABLE",
        "retrying Cloud KMS decrypt after ATTEMPT_TIMEOUT"
      ])
      assert.strictEqual(yield* result.outcome("UNAVAILABLE"), 1)
      assert.strictEqual(yield* result.outcome("ATTEMPT_TIMEOUT"), 1)
      assert.strictEqual(yield* result.outcome("OK"), 1)
      assert.strictEqual(yield* result.mismatches, 0)
      assert.strictEqual(yield* result.retries, 2)
    })
  )

  it.live("each attempt's duration is recorded in seconds", () =>
    Effect.gen(function* () {
      const result = yield* run(testPolicy(), (attempt) => {
        advance(attempt === 1 ? 250 : 500)
        return attempt === 1 ? failWith(status.UNAVAILABLE)() : Promise.resolve({ ok: "plaintext" })
      })
      const duration = yield* result.duration
      assert.strictEqual(duration.count, 2)
      // (Floating point: performance.now() is fractional.)
      assert.closeTo(duration.min, 0.25, 1e-9)
      assert.closeTo(duration.max, 0.5, 1e-9)
    })
  )
})

describe("cancellation", () => {
  it.live("an interrupted call aborts its attempt and ends interrupted, with no failure of its own", () =>
    Effect.gen(function* () {
      const aborted = yield* Deferred.make<void>()
      const started = yield* Deferred.make<void>()
      const registry = new Map()
      const fiber = yield* retryingCall(
        testPolicy(),
        { deadline: undefined },
        {
          operation: "decrypt",
          resource,
          send: () =>
            Effect.tryPromise({
              try: (signal) => {
                Deferred.doneUnsafe(started, Exit.void)
                return new Promise<string>((_, reject) => {
                  signal.addEventListener("abort", () => {
                    Deferred.doneUnsafe(aborted, Exit.void)
                    reject(grpcError(status.CANCELLED, "cancelled"))
                  })
                })
              },
              catch: rpcFailedOf
            }),
          verify: (response: string) => Result.succeed(response)
        }
      ).pipe(Effect.provideService(Metric.MetricRegistry, registry), Effect.forkChild)
      yield* Deferred.await(started)
      yield* Fiber.interrupt(fiber)
      yield* Deferred.await(aborted)
      const exit = yield* Fiber.await(fiber)
      assert.isTrue(Exit.isFailure(exit) && Cause.hasInterruptsOnly(exit.cause), `exit: ${String(exit)}`)
    })
  )
})
