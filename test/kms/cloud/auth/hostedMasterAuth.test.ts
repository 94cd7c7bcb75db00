import { once } from "node:events"
import { assert, describe, it } from "@effect/vitest"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Logger from "effect/Logger"
import * as TestClock from "effect/testing/TestClock"
import { fetchHostedMasterToken, hostedMasterAuthClient, metadataServerToken } from "../../../../src/kms/cloud/auth/HostedMasterAuth.ts"
import { useFakeMetadataServer, vmTokenReply } from "../../../fakes/FakeMetadataServer.ts"
import { type TokenEndpoint, tokenEndpoint } from "../../../fakes/FakeTokenUrl.ts"

const vmToken = "vm-token-abc"
const body = '{"projectNumber":"42","clusterId":"c1"}'
const hour = 3_600_000

/** `effect` with a VM metadata server handing out vmToken (GCE_METADATA_HOST) while the scope lasts. */
const withMetadata = <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.andThen(useFakeMetadataServer(vmTokenReply(vmToken)), effect)

/** The next "served" event of the token endpoint; fails with `why` if none comes within 10 s. */
const nextServed = (endpoint: TokenEndpoint, why: string) => {
  const served = once(endpoint.events, "served")
  const giveUp = new Promise<never>((_, reject) => setTimeout(() => reject(new Error(why)), 10_000).unref())
  return Effect.promise(() => Promise.race([served, giveUp]))
}

/** One turn of the real event loop and its timers (the test clock does not move them). */
const realPause = Effect.promise(() => new Promise<void>((resolve) => setTimeout(resolve, 10)))

describe("hosted-master token source (--gce-config)", () => {
  it.live("posts token-body with the VM's metadata token and hands the reply's token to Cloud KMS calls", () =>
    withMetadata(
      Effect.gen(function* () {
        const endpoint = yield* tokenEndpoint({ vmToken, body, lifetimeMillis: 3_600_000 })
        const client = yield* hostedMasterAuthClient({ tokenUrl: endpoint.url, tokenBody: body })
        const headers = yield* Effect.promise(() => client.getRequestHeaders())
        assert.strictEqual(headers.get("authorization"), "Bearer hosted-token-1")
        assert.strictEqual(endpoint.served(), 1)
        // Cached: more calls, no more token requests.
        for (let i = 0; i < 5; i++) yield* Effect.promise(() => client.getRequestHeaders())
        assert.strictEqual(endpoint.served(), 1)
      })
    ).pipe(Effect.scoped)
  )

  it.effect("refreshes ahead of expiry in the background, before the old token expires", () =>
    withMetadata(
      Effect.gen(function* () {
        // The test clock moves the refresh; it starts at the wall clock's time
        // because google-auth-library checks a token's expiry against Date.now().
        yield* TestClock.setTime(Date.now())
        const clock = yield* Clock.Clock
        const endpoint = yield* tokenEndpoint({ vmToken, body, lifetimeMillis: hour, now: () => clock.currentTimeMillisUnsafe() })
        const firstExpiry = clock.currentTimeMillisUnsafe() + hour
        const client = yield* hostedMasterAuthClient({ tokenUrl: endpoint.url, tokenBody: body })
        const served = nextServed(endpoint, "no background refresh 5 minutes before expiry")
        yield* TestClock.adjust(hour - 5 * 60_000)
        const [second] = yield* served
        assert.strictEqual(second?.token, "hosted-token-2")
        // The reply is on its way to the plugin: wait (bounded) until calls carry it.
        const authorization = Effect.promise(() => client.getRequestHeaders()).pipe(Effect.map((headers) => headers.get("authorization")))
        for (let turn = 0; turn < 500 && (yield* authorization) !== "Bearer hosted-token-2"; turn++) yield* realPause
        assert.strictEqual(yield* authorization, "Bearer hosted-token-2")
        assert.isBelow(yield* Clock.currentTimeMillis, firstExpiry, "the new token arrived after the old one expired")
        assert.strictEqual(endpoint.served(), 2)
      })
    ).pipe(Effect.scoped)
  )

  it.live("bad replies and failures give clear errors that never contain a token", () =>
    withMetadata(
      Effect.gen(function* () {
        const endpoint = yield* tokenEndpoint({ vmToken, body, lifetimeMillis: 60_000 })
        const source = { tokenUrl: endpoint.url, tokenBody: body }
        const cases: ReadonlyArray<readonly [{ status: number; body: string }, string]> = [
          [{ status: 500, body: '{"accessToken":"leaked-secret"}' }, "500"],
          [{ status: 200, body: "not json leaked-secret" }, "JSON"],
          [{ status: 200, body: '{"accessToken":"leaked-secret"}' }, "expireTime"],
          [{ status: 200, body: '{"accessToken":"leaked-secret","expireTime":"tomorrow"}' }, "RFC 3339"]
        ]
        for (const [reply, expected] of cases) {
          endpoint.reply = () => reply
          const error = yield* Effect.flip(fetchHostedMasterToken(source, metadataServerToken()))
          assert.include(error.message, expected)
          assert.notInclude(error.message, "leaked-secret")
          assert.notInclude(error.message, vmToken)
        }
        const wrongBody = yield* Effect.flip(fetchHostedMasterToken({ ...source, tokenBody: "{}" }, metadataServerToken()))
        assert.include(wrongBody.message, "401")
        const noMetadata = yield* Effect.flip(fetchHostedMasterToken(source, () => Promise.reject(new Error("no metadata server"))))
        assert.include(noMetadata.message, "metadata server")
      })
    )
  )

  it.live("the token never reaches the logs", () =>
    withMetadata(
      Effect.gen(function* () {
        const lines: Array<string> = []
        const capture = Logger.make((options) => {
          lines.push(JSON.stringify(options.message))
        })
        const endpoint = yield* tokenEndpoint({ vmToken, body, lifetimeMillis: 1_000 })
        yield* Effect.gen(function* () {
          yield* hostedMasterAuthClient({ tokenUrl: endpoint.url, tokenBody: body })
          yield* Effect.promise(() => once(endpoint.events, "served"))
        }).pipe(Effect.scoped, Effect.provide(Logger.layer([capture])))
        assert.isAbove(lines.length, 0)
        assert.notMatch(lines.join("\n"), /hosted-token|vm-token/)
      })
    ).pipe(Effect.scoped)
  )
})
