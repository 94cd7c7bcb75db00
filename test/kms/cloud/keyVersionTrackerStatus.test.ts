import { assert, describe, it } from "@effect/vitest"
import * as Clock from "effect/Clock"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Logger from "effect/Logger"
import * as Metric from "effect/Metric"
import { TestClock } from "effect/testing"
import * as fc from "fast-check"
import type { CryptoKey } from "../../../src/kms/cloud/CloudKmsClient.ts"
import { firstCheckWaitMillis, makeKeyVersionTracker } from "../../../src/kms/cloud/KeyVersionTracker.ts"
import { kmsLastCheck } from "../../../src/observability/Metrics.ts"
import { keyWithPrimary, scriptedApi, scriptedKeyUri, scriptedVersion, trackerConfig } from "../../support/cloudScriptedApi.ts"

// What Status reports from the key version tracker, for every shape of
// GetCryptoKey answer, before the first check is done, and while a check
// is slow. Scripted Cloud KMS answers; time is the TestClock.

const key = scriptedKeyUri

/** Status after the first check of a key whose GetCryptoKey answers `answer`. */
const statusFor = (answer: CryptoKey) =>
  Effect.scoped(
    Effect.gen(function* () {
      const scripted = scriptedApi()
      scripted.getCryptoKey = () => Promise.resolve(answer)
      const tracker = yield* makeKeyVersionTracker(scripted.api, trackerConfig())
      return yield* tracker.status
    })
  ).pipe(Effect.provide(Logger.layer([])))

describe("key version tracker status", () => {
  it.effect("before the first check has answered, start goes on after 3 s and Status says no check has completed", () =>
    Effect.gen(function* () {
      const scripted = scriptedApi()
      scripted.getCryptoKey = () => new Promise(() => {})
      const starting = yield* Effect.forkChild(makeKeyVersionTracker(scripted.api, trackerConfig()))
      yield* TestClock.adjust(firstCheckWaitMillis)
      const tracker = yield* Fiber.join(starting)
      assert.deepStrictEqual(yield* tracker.status, { keyVersion: undefined, problem: `no check of ${key} has completed yet` })
      assert.isUndefined(yield* tracker.current)
    })
  )

  it.effect("an enabled primary is the current version; any other state is a problem naming it", () =>
    Effect.gen(function* () {
      assert.deepStrictEqual(yield* statusFor({ name: key, primary: { name: scriptedVersion(3), state: "ENABLED" } }), {
        keyVersion: scriptedVersion(3),
        problem: undefined
      })
      assert.deepStrictEqual(yield* statusFor({ name: key, primary: { name: scriptedVersion(3), state: "DISABLED" } }), {
        keyVersion: scriptedVersion(3),
        problem: `primary version ${scriptedVersion(3)} is DISABLED; enable it or choose another primary`
      })
      // No state at all (not something Cloud KMS sends): still not taken as enabled.
      assert.deepStrictEqual(yield* statusFor({ name: key, primary: { name: scriptedVersion(3) } }), {
        keyVersion: scriptedVersion(3),
        problem: `primary version ${scriptedVersion(3)} is in no known state; enable it or choose another primary`
      })
      assert.deepStrictEqual(yield* statusFor({ name: key, primary: { name: scriptedVersion(3), state: null } }), {
        keyVersion: scriptedVersion(3),
        problem: `primary version ${scriptedVersion(3)} is in no known state; enable it or choose another primary`
      })
    })
  )

  it.live("property: a primary that is not a version of the key means no usable version", () =>
    Effect.promise(() =>
      fc.assert(
        fc.asyncProperty(
          fc.oneof(
            fc.constant<CryptoKey["primary"]>(undefined),
            fc.constant<CryptoKey["primary"]>(null),
            fc.constant<CryptoKey["primary"]>({ state: "ENABLED" }),
            fc.constant<CryptoKey["primary"]>({ name: null, state: "ENABLED" }),
            fc.string().map((name): CryptoKey["primary"] => ({ name, state: "ENABLED" })),
            fc
              .integer({ min: 1, max: 99 })
              .map((n): CryptoKey["primary"] => ({ name: `${key}-b/cryptoKeyVersions/${n}`, state: "ENABLED" }))
          ),
          async (primary) => {
            const status = await Effect.runPromise(statusFor(primary === undefined ? { name: key } : { name: key, primary }))
            assert.deepStrictEqual(status, { keyVersion: undefined, problem: `${key} has no primary version; create or restore one` })
          }
        ),
        { numRuns: 60 }
      )
    )
  )

  it.effect("each check records its time as Unix seconds", () =>
    Effect.gen(function* () {
      const registry = new Map()
      const before = (yield* Clock.currentTimeMillis) / 1000
      yield* Effect.scoped(
        Effect.gen(function* () {
          const scripted = scriptedApi()
          scripted.getCryptoKey = () => keyWithPrimary(1)
          yield* makeKeyVersionTracker(scripted.api, trackerConfig())
        })
      ).pipe(Effect.provideService(Metric.MetricRegistry, registry))
      const after = (yield* Clock.currentTimeMillis) / 1000
      const { value } = yield* Effect.provideService(Metric.value(kmsLastCheck), Metric.MetricRegistry, registry)
      assert.isTrue(value >= before && value <= after, `${value} not in [${before}, ${after}]`)
    })
  )

  it.effect("refreshNow without a deadline waits for the check, however long it takes", () =>
    Effect.gen(function* () {
      const scripted = scriptedApi()
      scripted.getCryptoKey = () => keyWithPrimary(1)
      const tracker = yield* makeKeyVersionTracker(scripted.api, trackerConfig())
      const asked = yield* Deferred.make<void>()
      let answer: (key: CryptoKey) => void = () => {}
      scripted.getCryptoKey = () => {
        Deferred.doneUnsafe(asked, Exit.void)
        return new Promise((resolve) => {
          answer = resolve
        })
      }
      const refreshing = yield* Effect.forkChild(tracker.refreshNow(undefined))
      yield* Deferred.await(asked)
      yield* TestClock.adjust("1 hour")
      assert.isUndefined(refreshing.pollUnsafe())
      answer({ name: key, primary: { name: scriptedVersion(2), state: "ENABLED" } })
      assert.strictEqual(yield* Fiber.join(refreshing), scriptedVersion(2))
    })
  )

  it.effect("refreshNow with a deadline answers what is known by the deadline (less the margin); the check goes on", () =>
    Effect.gen(function* () {
      const scripted = scriptedApi()
      scripted.getCryptoKey = () => keyWithPrimary(1)
      const tracker = yield* makeKeyVersionTracker(scripted.api, trackerConfig())
      let answer: (key: CryptoKey) => void = () => {}
      scripted.getCryptoKey = () =>
        new Promise((resolve) => {
          answer = resolve
        })
      // 10 s budget: 1 s margin, 9 s of waiting.
      const refreshing = yield* Effect.forkChild(tracker.refreshNow((yield* Clock.currentTimeMillis) + 10_000))
      yield* TestClock.adjust("8 seconds")
      assert.isUndefined(refreshing.pollUnsafe())
      yield* TestClock.adjust("1 second")
      assert.strictEqual(yield* Fiber.join(refreshing), scriptedVersion(1))
      // The check that went on is adopted once it answers (the next one waits for it).
      answer({ name: key, primary: { name: scriptedVersion(2), state: "ENABLED" } })
      scripted.getCryptoKey = () => keyWithPrimary(2)
      assert.strictEqual(yield* tracker.refreshNow(undefined), scriptedVersion(2))
    })
  )
})
