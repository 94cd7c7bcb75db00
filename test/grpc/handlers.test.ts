import { assert, describe, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Logger from "effect/Logger"
import * as References from "effect/References"
import { logFailedCall } from "../../src/grpc/CallObserver.ts"
import { statusResponse } from "../../src/grpc/V2Handlers.ts"
import { InvalidRequest } from "../../src/kms/KmsErrors.ts"

describe("v2 Status answer", () => {
  const version = "projects/p/locations/l/keyRings/r/cryptoKeys/k/cryptoKeyVersions/4"
  it("ok with the key_id (and suffix) when healthy", () => {
    assert.deepStrictEqual(statusResponse({ keyVersion: version, problem: undefined }, undefined), {
      version: "v2",
      healthz: "ok",
      keyId: version
    })
    assert.deepStrictEqual(statusResponse({ keyVersion: version, problem: undefined }, "s"), {
      version: "v2",
      healthz: "ok",
      keyId: `${version}:s`
    })
  })
  it("the reason when not, keeping the last key_id", () => {
    assert.deepStrictEqual(statusResponse({ keyVersion: version, problem: "down" }, undefined), {
      version: "v2",
      healthz: "down",
      keyId: version
    })
  })
  it("no key version yet: the reason and an empty key_id (the apiserver writes nothing then)", () => {
    assert.deepStrictEqual(statusResponse({ keyVersion: undefined, problem: "checking" }, "s"), {
      version: "v2",
      healthz: "checking",
      keyId: ""
    })
    assert.deepStrictEqual(statusResponse({ keyVersion: undefined, problem: undefined }, undefined), {
      version: "v2",
      healthz: "no key version learned from the KMS yet",
      keyId: ""
    })
  })
})

describe("failed-call log line", () => {
  it.effect("one warning per failed call with rpc, uid, code, cause and time; nothing for a success", () =>
    Effect.gen(function* () {
      const lines: Array<{ message: unknown; level: string; annotations: Record<string, unknown> }> = []
      const capture = Logger.make((options) => {
        lines.push({
          message: options.message,
          level: options.logLevel,
          annotations: { ...options.fiber.getRef(References.CurrentLogAnnotations) }
        })
      })
      const method = { api: "v2", name: "Decrypt" } as const
      yield* Effect.provide(
        Effect.andThen(
          logFailedCall({ method, uid: "u-1", seconds: 0.25, failure: undefined, cause: undefined }),
          logFailedCall({
            method,
            uid: "u-2",
            seconds: 0.5,
            failure: { code: 3, details: "key_id is empty" },
            cause: Cause.fail(new InvalidRequest({ message: "key_id is empty" }))
          })
        ),
        Logger.layer([capture])
      )
      assert.deepStrictEqual(lines, [
        {
          message: ["KMS call failed"],
          level: "Warn",
          annotations: { rpc: "v2.Decrypt", uid: "u-2", code: "INVALID_ARGUMENT", cause: "key_id is empty", seconds: 0.5 }
        }
      ])
    })
  )

  it.effect("a call without a uid (v1beta1, Status) logs an empty uid", () =>
    Effect.gen(function* () {
      const uids: Array<unknown> = []
      const capture = Logger.make((options) => {
        uids.push(options.fiber.getRef(References.CurrentLogAnnotations)["uid"])
      })
      yield* Effect.provide(
        logFailedCall({
          method: { api: "v1beta1", name: "Encrypt" },
          uid: undefined,
          seconds: 0.1,
          failure: { code: 3, details: "plaintext is empty" },
          cause: Cause.fail(new InvalidRequest({ message: "plaintext is empty" }))
        }),
        Logger.layer([capture])
      )
      assert.deepStrictEqual(uids, [""])
    })
  )
})
