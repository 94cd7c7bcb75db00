import { randomBytes } from "node:crypto"
import { assert, describe, it } from "@effect/vitest"
import { status } from "@grpc/grpc-js"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import { statusName } from "../../../src/observability/Labels.ts"
import { FakeCloud } from "../../fakes/FakeCloud.ts"
import { InProcessPlugin } from "../../support/InProcessPlugin.ts"

// The plugin with --kms-qps-limit set below a quota the fake Cloud KMS
// enforces (RESOURCE_EXHAUSTED beyond 20 Encrypt/Decrypt calls in any
// second). Far more callers than the limit lets through, each with the
// apiserver's 3 s deadline: Cloud KMS never has to refuse a call, every
// caller is answered OK or, at once, RESOURCE_EXHAUSTED from our own limit,
// and none is answered after its deadline (its client would see
// DEADLINE_EXCEEDED).

const quotaPerSecond = 20
// At most burst + qps × 1 s = 7 calls leave in any second: well below the
// quota, as a timer that fires late on a loaded machine sends a few calls
// together (and the fake shares this process's event loop).
const flags = {
  kmsQpsLimit: Option.some("5"),
  kmsBurst: Option.some("2"),
  keyRefreshInterval: Option.some("1m"),
  kmsAttemptTimeout: Option.some("2s")
}
const deadlineMillis = 3_000

const plugin = InProcessPlugin.layer({ backend: "cloud", flags, clientTimeoutMillis: deadlineMillis }).pipe(
  Layer.provideMerge(FakeCloud.layer)
)

const codeOf = (error: { readonly code: number }) => statusName(error.code)

describe("--kms-qps-limit against a Cloud KMS quota", () => {
  it.live("below the quota: Cloud KMS refuses nothing; each caller gets OK or our RESOURCE_EXHAUSTED before its deadline", () =>
    Effect.gen(function* () {
      const fake = yield* FakeCloud
      const { client } = yield* InProcessPlugin
      fake.setQuota({ callsPerSecond: quotaPerSecond })
      fake.resetCounters()
      const seeds = Array.from({ length: 60 }, () => randomBytes(32))
      const encrypted = yield* Effect.forEach(seeds, (plaintext) => Effect.result(client.v2Encrypt({ plaintext })), {
        concurrency: "unbounded"
      })
      const encryptCodes = encrypted.map((r) => (r._tag === "Success" ? "OK" : codeOf(r.failure)))
      // Then Decrypts of what was wrapped, all at once, through the same limit.
      const wrapped = encrypted.flatMap((r, i) => (r._tag === "Success" ? [{ answer: r.success, seed: seeds[i] }] : []))
      const decrypted = yield* Effect.forEach(
        wrapped,
        ({ answer }) => Effect.result(client.v2Decrypt({ ciphertext: answer.ciphertext, keyId: answer.keyId })),
        { concurrency: "unbounded" }
      )
      const decryptCodes = decrypted.map((r) => (r._tag === "Success" ? "OK" : codeOf(r.failure)))

      assert.strictEqual(fake.quotaRefusals(), 0, "Cloud KMS refused a call")
      for (const code of [...encryptCodes, ...decryptCodes]) assert.oneOf(code, ["OK", statusName(status.RESOURCE_EXHAUSTED)])
      // The limit let some through and turned the rest away.
      assert.isAtLeast(encryptCodes.filter((c) => c === "OK").length, 2)
      assert.include(encryptCodes, "RESOURCE_EXHAUSTED")
      const refusal = encrypted.find((r) => r._tag === "Failure")
      assert.include(refusal?._tag === "Failure" ? refusal.failure.details : "", "client-side rate limit (--kms-qps-limit 5/s)")
      decrypted.forEach((r, i) => {
        if (r._tag === "Success") assert.deepStrictEqual(Buffer.from(r.success.plaintext), wrapped[i]?.seed)
      })
    }).pipe(Effect.provide(plugin))
  )
})
