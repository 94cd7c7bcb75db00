import { assert, describe, it } from "@effect/vitest"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as TestClock from "effect/testing/TestClock"
import { hostedMasterAuthClient } from "../../../../src/kms/cloud/auth/HostedMasterAuth.ts"
import { scriptedServer, tokenReply } from "../../../fakes/FakeTokenUrl.ts"
import { lineCollector } from "../../../support/logCapture.ts"

// Keeping the hosted-master token fresh: what the operator reads, how soon a
// failed refresh is retried (on the test clock), and a call that finds the
// token expired fetching one itself.

const body = '{"projectNumber":"42","clusterId":"c1"}'
const hour = 3_600_000

/** Log lines as "LEVEL message", and a way to wait for one. */
const captured = () => {
  const logs = lineCollector()
  return { lines: logs.leveled, waitForLine: logs.waitForLines, layer: logs.layer }
}

/** A metadata-token source that counts token-url attempts (each attempt asks it first). */
const countingVmToken = () => {
  let attempts = 0
  return { attempts: () => attempts, token: () => Promise.resolve(`vm-token-${++attempts}`) }
}

describe("hosted-master token refresh", () => {
  it.effect("says where credentials come from; a failed refresh is logged and retried about a second later", () => {
    const log = captured()
    return Effect.gen(function* () {
      const server = yield* scriptedServer
      const vm = countingVmToken()
      const starting = yield* Effect.forkChild(hostedMasterAuthClient({ tokenUrl: server.url, tokenBody: body }, vm.token))
      ;(yield* server.next).reply(200, tokenReply("hosted-1", (yield* Clock.currentTimeMillis) + hour))
      yield* Fiber.join(starting)
      assert.deepStrictEqual(log.lines, ["Info hosted-master credentials from token-url, refreshed ahead of expiry"])

      // Nothing is refreshed until 5 minutes before expiry...
      yield* TestClock.adjust("54 minutes")
      assert.strictEqual(vm.attempts(), 1)
      assert.strictEqual(server.arrived(), 1)
      // ...then it is, and token-url is down.
      yield* TestClock.adjust("6 minutes")
      const refresh = yield* server.next
      assert.strictEqual(refresh.headers.authorization, "Bearer vm-token-2")
      refresh.reply(503, "{}")
      yield* log.waitForLine(2)
      assert.deepStrictEqual(log.lines.slice(1), [
        "Warn refreshing the hosted-master token: token-url answered 503 Service Unavailable; retrying"
      ])

      // The retry comes after 1s (±20% jitter): count 100ms steps of the test clock until it starts.
      let steps = 0
      while (vm.attempts() < 3 && steps < 60) {
        yield* TestClock.adjust("100 millis")
        yield* Effect.yieldNow
        steps += 1
      }
      assert.strictEqual(vm.attempts(), 3, "no retry within 6s")
      assert.isAtLeast(steps, 8)
      assert.isAtMost(steps, 13)
      ;(yield* server.next).reply(200, tokenReply("hosted-2", (yield* Clock.currentTimeMillis) + hour))
    }).pipe(Effect.scoped, Effect.provide(log.layer))
  })

  it.live("a call that finds the token expired (the background refresh behind) fetches a fresh one itself", () =>
    Effect.gen(function* () {
      const server = yield* scriptedServer
      const vm = countingVmToken()
      const starting = yield* Effect.forkChild(hostedMasterAuthClient({ tokenUrl: server.url, tokenBody: body }, vm.token))
      // token-url hands out an already expired token, and then hangs on the background refresh.
      ;(yield* server.next).reply(200, tokenReply("hosted-expired", Date.now() - 1_000))
      const client = yield* Fiber.join(starting)
      const background = yield* server.next
      const call = yield* Effect.forkChild(Effect.promise(() => client.getRequestHeaders()))
      // The call asks token-url itself rather than failing or sending the expired token.
      const first = yield* Effect.raceFirst(
        Effect.map(server.next, (request) => ({ request })),
        Effect.map(Fiber.await(call), (exit) => ({ exit }))
      )
      assert.isTrue("request" in first, "the call settled without asking token-url")
      if (!("request" in first)) return
      first.request.reply(200, tokenReply("hosted-fresh", Date.now() + hour))
      const headers = yield* Fiber.join(call)
      assert.strictEqual(headers.get("authorization"), "Bearer hosted-fresh")
      background.reply(200, tokenReply("hosted-background", Date.now() + hour))
    }).pipe(Effect.scoped)
  )
})
