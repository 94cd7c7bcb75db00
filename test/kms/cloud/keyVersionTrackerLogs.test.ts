import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { makeKeyVersionTracker } from "../../../src/kms/cloud/KeyVersionTracker.ts"
import {
  denied,
  keyWithPrimary,
  probeAnswer,
  scriptedApi,
  scriptedKeyUri,
  scriptedVersion,
  trackerConfig
} from "../../support/cloudScriptedApi.ts"
import { capturingLogs } from "../../support/logCapture.ts"

// What an operator reads about the key version: one line when new data
// starts going to another version, one warning when a (new) problem shows,
// one line when the check recovers; nothing while nothing changes. Each
// check here is an explicit refreshNow against scripted Cloud KMS answers.

const key = scriptedKeyUri
const probeDenied =
  `Cloud KMS encrypt on ${key}: PERMISSION_DENIED: no encrypt; ` +
  `grant the plugin's service account cloudkms.cryptoKeyVersions.useToEncrypt on the key (role roles/cloudkms.cryptoKeyEncrypterDecrypter)`
const noPrimary = `${key} has no primary version; create or restore one`

describe("key version tracker log", () => {
  it.effect("logs version changes, new problems and recovery exactly once each", () => {
    const logs = capturingLogs()
    return Effect.gen(function* () {
      const scripted = scriptedApi()
      scripted.getCryptoKey = () => keyWithPrimary(1)
      const tracker = yield* makeKeyVersionTracker(scripted.api, trackerConfig())
      const step = (expected: string | undefined, newLines: ReadonlyArray<string>) =>
        Effect.gen(function* () {
          const before = logs.lines.length
          assert.strictEqual(yield* tracker.refreshNow(undefined), expected)
          assert.deepStrictEqual(logs.messages().slice(before), newLines)
        })
      // The first check: the version, no "again" (nothing had succeeded before).
      assert.deepStrictEqual(logs.messages(), [`new data is wrapped with ${scriptedVersion(1)}`])
      yield* step(scriptedVersion(1), [])
      // Cloud KMS refuses: the known version stays, the problem is said once.
      scripted.getCryptoKey = denied("no get")
      scripted.encrypt = denied("no encrypt")
      yield* step(scriptedVersion(1), [`key check: ${probeDenied}`])
      yield* step(scriptedVersion(1), [])
      assert.deepStrictEqual(yield* tracker.status, { keyVersion: scriptedVersion(1), problem: probeDenied })
      // Back, on a rotated key.
      scripted.getCryptoKey = () => keyWithPrimary(2)
      yield* step(scriptedVersion(2), [`new data is wrapped with ${scriptedVersion(2)}`, "key check succeeded again"])
      // The primary is gone: no version to wrap with (and none logged).
      scripted.getCryptoKey = () => Promise.resolve({ name: key })
      yield* step(undefined, [`key check: ${noPrimary}`])
      assert.deepStrictEqual(yield* tracker.status, { keyVersion: undefined, problem: noPrimary })
      yield* step(undefined, [])
      // A primary again; not "succeeded again": there was no version before it.
      scripted.getCryptoKey = () => keyWithPrimary(2)
      yield* step(scriptedVersion(2), [`new data is wrapped with ${scriptedVersion(2)}`])
      // Problems are warnings, the rest information.
      assert.deepStrictEqual(
        logs.lines.map((l) => l.level),
        ["Info", "Warn", "Info", "Info", "Warn", "Info"]
      )
    }).pipe(logs.provide)
  })

  it.effect("a refused GetCryptoKey falls back to the Encrypt probe, says so once with the reason, and sticks to the probe", () => {
    const logs = capturingLogs()
    return Effect.gen(function* () {
      const scripted = scriptedApi()
      scripted.getCryptoKey = denied("Permission 'cloudkms.cryptoKeys.get' denied")
      scripted.encrypt = () => probeAnswer(1)
      const tracker = yield* makeKeyVersionTracker(scripted.api, trackerConfig())
      assert.deepStrictEqual(yield* tracker.status, { keyVersion: scriptedVersion(1), problem: undefined })
      scripted.encrypt = () => probeAnswer(2)
      assert.strictEqual(yield* tracker.refreshNow(undefined), scriptedVersion(2))
      assert.strictEqual(yield* tracker.refreshNow(undefined), scriptedVersion(2))
      assert.deepStrictEqual(scripted.calls, { getCryptoKey: 1, encrypt: 3 })
      assert.deepStrictEqual(logs.messages(), [
        `GetCryptoKey failed (Cloud KMS getCryptoKey on ${key}: PERMISSION_DENIED: Permission 'cloudkms.cryptoKeys.get' denied; ` +
          `grant the plugin's service account cloudkms.cryptoKeys.get on the key (role roles/cloudkms.cryptoKeyEncrypterDecrypter)): ` +
          `learning the key version with an Encrypt probe instead`,
        `new data is wrapped with ${scriptedVersion(1)}`,
        `new data is wrapped with ${scriptedVersion(2)}`
      ])
    }).pipe(logs.provide)
  })

  it.effect("a GetCryptoKey answer about another key is refused (integrity), and the probe answers instead", () => {
    const logs = capturingLogs()
    return Effect.gen(function* () {
      const scripted = scriptedApi()
      scripted.getCryptoKey = () => Promise.resolve({ name: `${key}-other` })
      scripted.encrypt = () => probeAnswer(4)
      const tracker = yield* makeKeyVersionTracker(scripted.api, trackerConfig())
      assert.deepStrictEqual(yield* tracker.status, { keyVersion: scriptedVersion(4), problem: undefined })
      assert.strictEqual(
        logs.messages()[0],
        `GetCryptoKey failed (Cloud KMS getCryptoKey on ${key}: response failed its resource name ` +
          `(asked ${key}, answered "${key}-other") check on every attempt; nothing returned): ` +
          `learning the key version with an Encrypt probe instead`
      )
    }).pipe(logs.provide)
  })
})
