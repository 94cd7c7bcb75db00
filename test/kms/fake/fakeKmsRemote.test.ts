import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as TestClock from "effect/testing/TestClock"
import { fakeKms } from "../../support/fakeKmsBackend.ts"

// The fake backend standing in for a remote KMS: --fake-latency delays every
// call by exactly that much (on the test clock), and it never lacks a permission.

const limits = { deadline: undefined }

describe("fake backend as a remote KMS", () => {
  it.effect("--fake-latency: Encrypt and Decrypt answer after exactly that delay", () =>
    Effect.gen(function* () {
      const { kms } = yield* fakeKms({ fakeLatency: Option.some("200ms") })
      const encrypting = yield* Effect.forkChild(kms.encrypt(Buffer.from("x"), limits), { startImmediately: true })
      yield* TestClock.adjust("199 millis")
      assert.isUndefined(encrypting.pollUnsafe())
      yield* TestClock.adjust("1 millis")
      const sealed = yield* Fiber.join(encrypting)
      const decrypting = yield* Effect.forkChild(kms.decrypt(sealed.ciphertext, undefined, limits), { startImmediately: true })
      yield* TestClock.adjust("199 millis")
      assert.isUndefined(decrypting.pollUnsafe())
      yield* TestClock.adjust("1 millis")
      assert.strictEqual(Buffer.from(yield* Fiber.join(decrypting)).toString(), "x")
    }).pipe(Effect.scoped)
  )

  it.effect("without --fake-latency: answers at once, the test clock never moving", () =>
    Effect.gen(function* () {
      const { kms } = yield* fakeKms()
      const encrypting = yield* Effect.forkChild(kms.encrypt(Buffer.from("x"), limits), { startImmediately: true })
      assert.isDefined(encrypting.pollUnsafe())
    }).pipe(Effect.scoped)
  )

  it.effect("reports no missing permissions", () =>
    Effect.gen(function* () {
      const { kms } = yield* fakeKms()
      assert.deepStrictEqual(yield* kms.missingPermissions, [])
    }).pipe(Effect.scoped)
  )
})
