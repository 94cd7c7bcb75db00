import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Logger from "effect/Logger"
import { TestClock } from "effect/testing"
import { makeKeyVersionTracker, retryAfterFailureMillis } from "../../../src/kms/cloud/KeyVersionTracker.ts"
import { denied, keyWithPrimary, scriptedApi, trackerConfig } from "../../support/cloudScriptedApi.ts"

// When the background check runs again: a healthy key is checked every
// --key-refresh-interval (1 min here); after a problem or a failed check,
// again after 10 s. The TestClock moves time; the scripted Cloud KMS counts.

describe("key version tracker schedule", () => {
  it.effect("a healthy key is checked again after the refresh interval, not sooner", () =>
    Effect.gen(function* () {
      const scripted = scriptedApi()
      scripted.getCryptoKey = () => keyWithPrimary(1)
      yield* makeKeyVersionTracker(scripted.api, trackerConfig())
      assert.strictEqual(scripted.calls.getCryptoKey, 1)
      yield* TestClock.adjust(retryAfterFailureMillis)
      assert.strictEqual(scripted.calls.getCryptoKey, 1)
      yield* TestClock.adjust(60_000 - retryAfterFailureMillis)
      assert.strictEqual(scripted.calls.getCryptoKey, 2)
    }).pipe(Effect.provide(Logger.layer([])))
  )

  it.effect("a key whose primary is disabled is checked again after 10 s", () =>
    Effect.gen(function* () {
      const scripted = scriptedApi()
      scripted.getCryptoKey = () => keyWithPrimary(1, "DISABLED")
      yield* makeKeyVersionTracker(scripted.api, trackerConfig())
      assert.strictEqual(scripted.calls.getCryptoKey, 1)
      yield* TestClock.adjust(retryAfterFailureMillis)
      assert.strictEqual(scripted.calls.getCryptoKey, 2)
    }).pipe(Effect.provide(Logger.layer([])))
  )

  it.effect("a failed check is retried after 10 s", () =>
    Effect.gen(function* () {
      const scripted = scriptedApi()
      scripted.getCryptoKey = denied("no get")
      scripted.encrypt = denied("no encrypt")
      const tracker = yield* makeKeyVersionTracker(scripted.api, trackerConfig())
      assert.isUndefined(yield* tracker.current)
      assert.strictEqual(scripted.calls.getCryptoKey, 1)
      yield* TestClock.adjust(retryAfterFailureMillis)
      assert.strictEqual(scripted.calls.getCryptoKey, 2)
    }).pipe(Effect.provide(Logger.layer([])))
  )
})
