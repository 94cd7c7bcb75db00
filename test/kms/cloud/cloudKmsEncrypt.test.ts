import { assert, describe, it } from "@effect/vitest"
import { status } from "@grpc/grpc-js"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { cloudKeyUri, FakeCloud } from "../../fakes/FakeCloud.ts"
import { cloudBackend } from "../../support/cloudBackend.ts"

// Encrypt on the CloudKms backend: always with the version Status reports,
// a clear refusal while none is known, and one re-check (not a loop) when
// the pinned version turns out to be disabled.

const version = (n: number) => `${cloudKeyUri}/cryptoKeyVersions/${n}`
const noDeadline = { deadline: undefined }

describe("CloudKms Encrypt", () => {
  it.live("while no key version is known, Encrypt fails at once naming the key and why", () =>
    Effect.gen(function* () {
      const fake = yield* FakeCloud
      fake.inject({ fault: { kind: "fail", code: status.UNAVAILABLE, message: "down for the test" } })
      const { kms } = yield* cloudBackend({ kmsMaxAttempts: Option.some("1") })
      fake.resetCounters()
      const error = yield* Effect.flip(kms.encrypt(Buffer.from("x"), noDeadline))
      assert.strictEqual(error._tag, "KmsUnavailable")
      assert.strictEqual(
        error.message,
        `no usable version of ${cloudKeyUri} known yet: Cloud KMS encrypt on ${cloudKeyUri}: UNAVAILABLE: down for the test`
      )
      assert.strictEqual(fake.calls.Encrypt, 0)
    }).pipe(Effect.scoped, Effect.provide(FakeCloud.layer))
  )

  it.live("a disabled pinned version with no other primary: one Encrypt, one key check, and the KeyUnusable error", () =>
    Effect.gen(function* () {
      const fake = yield* FakeCloud
      const { kms } = yield* cloudBackend()
      fake.setVersionState(cloudKeyUri, 1, "DISABLED")
      fake.resetCounters()
      const error = yield* Effect.flip(kms.encrypt(Buffer.from("x"), noDeadline))
      assert.strictEqual(error._tag, "KeyUnusable")
      assert.strictEqual(
        error.message,
        `Cloud KMS encrypt on ${version(1)}: FAILED_PRECONDITION: ${version(1)} is not enabled, current state is: DISABLED.; check that the key version is enabled`
      )
      assert.deepStrictEqual({ ...fake.calls }, { Encrypt: 1, Decrypt: 0, GetCryptoKey: 1, TestIamPermissions: 0 })
    }).pipe(Effect.scoped, Effect.provide(FakeCloud.layer))
  )

  it.live("a disabled pinned version after a rotation: Encrypt moves to the new primary with one more Encrypt", () =>
    Effect.gen(function* () {
      const fake = yield* FakeCloud
      const { kms } = yield* cloudBackend()
      fake.rotate(cloudKeyUri)
      fake.setVersionState(cloudKeyUri, 1, "DISABLED")
      fake.resetCounters()
      const encrypted = yield* kms.encrypt(Buffer.from("x"), noDeadline)
      assert.strictEqual(encrypted.keyVersion, version(2))
      assert.deepStrictEqual(
        fake.requests.map((r) => [r.method, r.name]),
        [
          ["Encrypt", version(1)],
          ["GetCryptoKey", cloudKeyUri],
          ["Encrypt", version(2)]
        ]
      )
      assert.deepStrictEqual(yield* kms.status, { keyVersion: version(2), problem: undefined })
    }).pipe(Effect.scoped, Effect.provide(FakeCloud.layer))
  )
})
