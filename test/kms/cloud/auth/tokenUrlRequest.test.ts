import * as http from "node:http"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import { fetchHostedMasterToken } from "../../../../src/kms/cloud/auth/HostedMasterAuth.ts"
import { scriptedServer, tokenReply } from "../../../fakes/FakeTokenUrl.ts"

// One token-url round trip, as GKE's token endpoint expects it, and what
// becomes of it when it cannot complete.

const body = '{"projectNumber":"42","clusterId":"c1"}'
const vm = () => Promise.resolve("vm-token-xyz")

describe("token-url request", () => {
  it.live("POSTs token-body as JSON with the VM token as bearer, and reads the token and its expiry", () =>
    Effect.gen(function* () {
      const server = yield* scriptedServer
      const fetching = yield* Effect.forkChild(fetchHostedMasterToken({ tokenUrl: server.url, tokenBody: body }, vm))
      const request = yield* server.next
      assert.strictEqual(request.method, "POST")
      assert.strictEqual(request.headers.authorization, "Bearer vm-token-xyz")
      assert.strictEqual(request.headers["content-type"], "application/json")
      assert.strictEqual(request.body, body)
      request.reply(200, tokenReply("hosted-1", Date.UTC(2031, 0, 2, 3, 4, 5)))
      assert.deepStrictEqual(yield* Fiber.join(fetching), { token: "hosted-1", expiresAt: Date.UTC(2031, 0, 2, 3, 4, 5) })
    }).pipe(Effect.scoped)
  )

  it.live("an error status is reported with its code and reason phrase", () =>
    Effect.gen(function* () {
      const server = yield* scriptedServer
      const fetching = yield* Effect.forkChild(Effect.flip(fetchHostedMasterToken({ tokenUrl: server.url, tokenBody: body }, vm)))
      ;(yield* server.next).reply(503, "{}")
      assert.strictEqual((yield* Fiber.join(fetching)).message, "token-url answered 503 Service Unavailable")
    }).pipe(Effect.scoped)
  )

  it.live("a caller that gives up aborts the request: token-url sees the client go", () =>
    Effect.gen(function* () {
      const server = yield* scriptedServer
      const fetching = yield* Effect.forkChild(fetchHostedMasterToken({ tokenUrl: server.url, tokenBody: body }, vm))
      const request = yield* server.next
      yield* Fiber.interrupt(fetching)
      yield* Effect.promise(() => request.abandoned)
    }).pipe(Effect.scoped)
  )

  it.live("nothing listening at token-url: a TokenError saying so, prefixed with token-url", () =>
    Effect.gen(function* () {
      // A port that was just ours and is closed now.
      const closed = yield* Effect.promise(
        () =>
          new Promise<string>((resolve) => {
            const server = http.createServer().listen(0, "127.0.0.1", () => {
              const address = server.address()
              server.close(() => resolve(typeof address === "object" && address !== null ? `http://127.0.0.1:${address.port}/token` : ""))
            })
          })
      )
      const error = yield* Effect.flip(fetchHostedMasterToken({ tokenUrl: closed, tokenBody: body }, vm))
      assert.strictEqual(error._tag, "TokenError")
      assert.strictEqual(error.message, "token-url: fetch failed")
    })
  )
})
