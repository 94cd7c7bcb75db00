import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { keyA } from "../../support/fakeKmsBackend.ts"
import { httpGet, httpPost as post, sample } from "../../support/http.ts"
import { InProcessPlugin } from "../../support/InProcessPlugin.ts"

// The fake backend's development endpoint on the health server: POST
// /fake/rotate rotates --key-uri and answers the new primary version, which
// new data is then wrapped with.

describe("POST /fake/rotate (fake backend)", () => {
  it.live("answers the new primary version; Status and Encrypt move to it", () =>
    Effect.gen(function* () {
      const { client, url } = yield* InProcessPlugin
      assert.deepStrictEqual(yield* post(`${url}/fake/rotate`), { status: 200, body: `${keyA}/cryptoKeyVersions/2\n` })
      assert.deepStrictEqual(yield* post(`${url}/fake/rotate`), { status: 200, body: `${keyA}/cryptoKeyVersions/3\n` })
      assert.strictEqual((yield* client.v2Encrypt({ plaintext: Buffer.from("x") })).keyId, `${keyA}/cryptoKeyVersions/3`)
      assert.strictEqual((yield* client.v2Status).keyId, `${keyA}/cryptoKeyVersions/3`)
      // Only POST rotates.
      const get = yield* Effect.promise(() => fetch(`${url}/fake/rotate`))
      assert.strictEqual(get.status, 404)
      assert.deepStrictEqual(yield* post(`${url}/fake/rotate`), { status: 200, body: `${keyA}/cryptoKeyVersions/4\n` })
    }).pipe(Effect.provide(InProcessPlugin.layer({ health: true, flags: { keyUri: Option.some(keyA) } })))
  )

  it.live("kms_plugin_key_version_info follows the rotation: one series, for the current version; the old one is gone", () =>
    Effect.gen(function* () {
      const { metricsUrl, url } = yield* InProcessPlugin
      const info = (text: string) => text.split("\n").filter((line) => line.startsWith("kms_plugin_key_version_info{"))
      const before = (yield* httpGet(`${metricsUrl}/metrics`)).body
      assert.deepStrictEqual(info(before), [`kms_plugin_key_version_info{key="${keyA}",version="1"} 1`])
      yield* post(`${url}/fake/rotate`)
      const after = (yield* httpGet(`${metricsUrl}/metrics`)).body
      assert.deepStrictEqual(info(after), [`kms_plugin_key_version_info{key="${keyA}",version="2"} 1`])
      assert.isUndefined(sample(after, "kms_plugin_key_version_info", { version: "1" }))
    }).pipe(Effect.provide(InProcessPlugin.layer({ health: true, flags: { keyUri: Option.some(keyA) } })))
  )
})
