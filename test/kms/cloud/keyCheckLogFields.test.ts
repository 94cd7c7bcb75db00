import { assert, describe, it } from "@effect/vitest"
import { status } from "@grpc/grpc-js"
import * as Effect from "effect/Effect"
import { makeKeyVersionTracker } from "../../../src/kms/cloud/KeyVersionTracker.ts"
import { denied, keyWithPrimary, rejectWith, scriptedApi, scriptedKeyUri, trackerConfig } from "../../support/cloudScriptedApi.ts"
import { capturingLogs } from "../../support/logCapture.ts"

// A failed key check's warning carries what a log query filters on as fields:
// `code` (the kind of failure: the KmsError tag, KeyUnusable for a key with no
// enabled primary) and `key` (the crypto key checked).

describe("key check warnings", () => {
  it.effect("carry the failure's code and the key as fields", () => {
    const logs = capturingLogs()
    return Effect.gen(function* () {
      const scripted = scriptedApi()
      scripted.getCryptoKey = () => keyWithPrimary(1)
      const tracker = yield* makeKeyVersionTracker(scripted.api, trackerConfig())
      const fieldsOfNewWarning = Effect.gen(function* () {
        const before = logs.lines.length
        yield* tracker.refreshNow(undefined)
        const warnings = logs.lines.slice(before).filter((line) => line.level === "Warn")
        assert.lengthOf(warnings, 1)
        assert.match(warnings[0]?.message ?? "", /^key check: /)
        return warnings[0]?.annotations
      })

      scripted.getCryptoKey = denied("no get")
      scripted.encrypt = denied("no encrypt")
      assert.deepStrictEqual(yield* fieldsOfNewWarning, { code: "PermissionDenied", key: scriptedKeyUri })

      scripted.getCryptoKey = rejectWith(status.UNAVAILABLE, "down")
      scripted.encrypt = rejectWith(status.UNAVAILABLE, "down")
      assert.deepStrictEqual(yield* fieldsOfNewWarning, { code: "KmsUnavailable", key: scriptedKeyUri })

      scripted.getCryptoKey = () => keyWithPrimary(2, "DISABLED")
      assert.deepStrictEqual(yield* fieldsOfNewWarning, { code: "KeyUnusable", key: scriptedKeyUri })
    }).pipe(logs.provide)
  })
})
