import { assert, describe, it } from "@effect/vitest"
import { status } from "@grpc/grpc-js"
import * as Effect from "effect/Effect"
import * as Metric from "effect/Metric"
import * as Option from "effect/Option"
import { cloudKmsCalls } from "../../../src/observability/Metrics.ts"
import { cloudKeyUri, cloudOtherKeyUri, FakeCloud } from "../../fakes/FakeCloud.ts"
import { cloudBackend } from "../../support/cloudBackend.ts"
import { capturingLogs } from "../../support/logCapture.ts"

// The permission check behind --healthz: per key, what the plugin needs and
// lacks (Encrypt and Decrypt on --key-uri, Decrypt only on each
// --decrypt-key-uri), asked for all keys at once.

describe("CloudKms missing permissions", () => {
  it.live("names each missing permission with its key; Encrypt on a decrypt-only key is not needed", () =>
    Effect.gen(function* () {
      const fake = yield* FakeCloud
      const { kms } = yield* cloudBackend({ decryptKeyUri: [cloudOtherKeyUri] })
      assert.deepStrictEqual(yield* kms.missingPermissions, [])
      fake.denyPermissions(cloudKeyUri, ["cloudkms.cryptoKeyVersions.useToEncrypt"])
      fake.denyPermissions(cloudOtherKeyUri, ["cloudkms.cryptoKeyVersions.useToEncrypt", "cloudkms.cryptoKeyVersions.useToDecrypt"])
      assert.deepStrictEqual(yield* kms.missingPermissions, [
        `cloudkms.cryptoKeyVersions.useToEncrypt on ${cloudKeyUri}`,
        `cloudkms.cryptoKeyVersions.useToDecrypt on ${cloudOtherKeyUri}`
      ])
    }).pipe(Effect.scoped, Effect.provide(FakeCloud.layer))
  )

  it.live("a failed TestIamPermissions names the operation and the key", () =>
    Effect.gen(function* () {
      const fake = yield* FakeCloud
      const { kms } = yield* cloudBackend()
      fake.inject({ fault: { kind: "fail", code: status.ABORTED, message: "try later" }, method: "TestIamPermissions" })
      const error = yield* Effect.flip(kms.missingPermissions)
      assert.strictEqual(error.message, `Cloud KMS testIamPermissions on ${cloudKeyUri}: ABORTED: try later`)
    }).pipe(Effect.scoped, Effect.provide(FakeCloud.layer))
  )

  it.live("all keys are asked at once: a hanging answer for one key does not hold up the others", () =>
    Effect.gen(function* () {
      const fake = yield* FakeCloud
      const { kms } = yield* cloudBackend({ decryptKeyUri: [cloudOtherKeyUri], kmsAttemptTimeout: Option.some("300ms") })
      const seen: Array<string> = []
      fake.events.on("call", (call) => seen.push(`call ${call.name}`))
      fake.events.on("cancelled", (call) => seen.push(`cancelled ${call.name}`))
      // The first TestIamPermissions to arrive hangs until its 300 ms attempt times out.
      fake.inject({ fault: { kind: "hang" }, method: "TestIamPermissions", times: 1 })
      assert.deepStrictEqual(yield* kms.missingPermissions, [])
      assert.sameMembers(seen.slice(0, 2), [`call ${cloudKeyUri}`, `call ${cloudOtherKeyUri}`])
      assert.match(seen[2] ?? "", /^cancelled /)
    }).pipe(Effect.scoped, Effect.provide(FakeCloud.layer))
  )

  const notImplemented =
    "the Cloud KMS endpoint does not implement TestIamPermissions: permissions are not checked; readiness follows the key's reachability"

  it.live("an endpoint without TestIamPermissions (UNIMPLEMENTED): nothing missing, said once, not asked again", () =>
    Effect.gen(function* () {
      const { kms } = yield* cloudBackend({ decryptKeyUri: [cloudOtherKeyUri] })
      const logs = capturingLogs()
      const unimplemented = Effect.map(
        Metric.value(Metric.withAttributes(cloudKmsCalls, { operation: "testIamPermissions", outcome: "UNIMPLEMENTED" })),
        (state) => state.count
      )
      const before = yield* unimplemented
      assert.deepStrictEqual(yield* logs.provide(kms.missingPermissions), [])
      assert.deepStrictEqual(yield* logs.provide(kms.missingPermissions), [])
      assert.deepStrictEqual(logs.messages().filter((m) => m === notImplemented).length, 1)
      // One ask per key, the first time; none after.
      assert.strictEqual((yield* unimplemented) - before, 2)
    }).pipe(Effect.scoped, Effect.provide(FakeCloud.layerWith({ testIamPermissions: false })))
  )

  it.live("a transient failure is not taken for UNIMPLEMENTED: the check fails, and is made again next time", () =>
    Effect.gen(function* () {
      const fake = yield* FakeCloud
      const { kms } = yield* cloudBackend({ kmsMaxAttempts: Option.some("1") })
      const logs = capturingLogs()
      fake.inject({ fault: { kind: "fail", code: status.UNAVAILABLE, message: "blip" }, method: "TestIamPermissions", times: 1 })
      const error = yield* Effect.flip(logs.provide(kms.missingPermissions))
      assert.include(error.message, "UNAVAILABLE: blip")
      fake.denyPermissions(cloudKeyUri, ["cloudkms.cryptoKeyVersions.useToDecrypt"])
      assert.deepStrictEqual(yield* logs.provide(kms.missingPermissions), [`cloudkms.cryptoKeyVersions.useToDecrypt on ${cloudKeyUri}`])
      assert.notInclude(logs.messages(), notImplemented)
    }).pipe(Effect.scoped, Effect.provide(FakeCloud.layer))
  )
})
