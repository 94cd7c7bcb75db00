import type * as http from "node:http"
import * as net from "node:net"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { type HttpLimits, makeGuardedServer } from "../../src/health/GuardedHttpServer.ts"

// Which connections the health listeners keep when more arrive than they
// hold: never one whose request is being answered; otherwise the oldest
// idle or half-sent one makes room. Small limits, plain node:http handlers.

const limits: HttpLimits = {
  maxConnections: 4,
  headersTimeoutMillis: 10_000,
  requestTimeoutMillis: 10_000,
  keepAliveTimeoutMillis: 10_000,
  checkIntervalMillis: 1_000
}

/** A guarded server whose handler answers "ok" once `release` is called; closed with the scope. */
const server = Effect.acquireRelease(
  Effect.promise(async () => {
    const held: Array<http.ServerResponse> = []
    let released = false
    const arrived: Array<() => void> = []
    const guarded = makeGuardedServer(limits)
    guarded.on("request", (_request: http.IncomingMessage, response: http.ServerResponse) => {
      if (released) response.end("ok")
      else held.push(response)
      for (const resolve of arrived.splice(0)) resolve()
    })
    await new Promise<void>((resolve) => guarded.listen(0, "127.0.0.1", resolve))
    const { port } = guarded.address() as net.AddressInfo
    return {
      guarded,
      port,
      heldCount: () => held.length,
      /** Resolves at the next request the handler sees. */
      nextRequest: () => new Promise<void>((resolve) => arrived.push(resolve)),
      release: () => {
        released = true
        for (const response of held.splice(0)) response.end("ok")
      }
    }
  }),
  ({ guarded }) =>
    Effect.promise(
      () =>
        new Promise<void>((resolve) => {
          guarded.closeAllConnections()
          guarded.close(() => resolve())
        })
    )
)

interface Client {
  readonly socket: net.Socket
  readonly connected: Promise<void>
  readonly closed: Promise<void>
  readonly received: () => string
}

const connect = (port: number, send?: string): Client => {
  const socket = net.connect(port, "127.0.0.1")
  let received = ""
  socket.on("data", (chunk: Buffer) => {
    received += chunk.toString()
  })
  socket.on("error", () => undefined)
  const closed = new Promise<void>((resolve) => socket.once("close", () => resolve()))
  const connected = new Promise<void>((resolve) => {
    socket.once("connect", () => {
      if (send !== undefined) socket.write(send)
      resolve()
    })
  })
  return { socket, connected, closed, received: () => received }
}

const getRequest = "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"

/** `count` connections, one after the other, each with a request answered and kept alive. */
const answered = (port: number, count: number) =>
  Effect.promise(async () => {
    const clients: Array<Client> = []
    for (let i = 0; i < count; i++) {
      const client = connect(port, getRequest)
      await new Promise<void>((resolve) => client.socket.once("data", () => resolve()))
      clients.push(client)
    }
    return clients
  })

describe("guarded HTTP server", () => {
  it.live("idle connections past the cap: the oldest is closed first, a request being answered never is", () =>
    Effect.gen(function* () {
      const { nextRequest, port, release } = yield* server
      const arrived = nextRequest()
      const busy = connect(port, getRequest)
      yield* Effect.promise(() => arrived)
      const idle = Array.from({ length: limits.maxConnections - 1 }, () => connect(port))
      yield* Effect.promise(() => Promise.all(idle.map((c) => c.connected)))
      // One more: the oldest idle connection makes room, the busy one stays.
      const newcomer = connect(port)
      yield* Effect.promise(() => idle[0]?.closed ?? Promise.resolve())
      const more = Array.from({ length: 10 }, () => connect(port))
      yield* Effect.promise(() => Promise.all(idle.map((c) => c.closed)))
      release()
      yield* Effect.promise(() => new Promise<void>((resolve) => busy.socket.on("data", () => resolve())))
      assert.match(busy.received(), /^HTTP\/1\.1 200 OK[\s\S]*ok$/)
      assert.isFalse(busy.socket.destroyed)
      for (const c of [newcomer, ...more]) c.socket.destroy()
    })
  )

  it.live("every connection busy: a newcomer is closed at once and the busy ones are answered", () =>
    Effect.gen(function* () {
      const { heldCount, nextRequest, port, release } = yield* server
      const busy: Array<Client> = []
      for (let i = 0; i < limits.maxConnections; i++) {
        const arrived = nextRequest()
        busy.push(connect(port, getRequest))
        yield* Effect.promise(() => arrived)
      }
      assert.strictEqual(heldCount(), limits.maxConnections)
      const newcomer = connect(port, getRequest)
      yield* Effect.promise(() => newcomer.closed)
      assert.strictEqual(newcomer.received(), "")
      release()
      yield* Effect.promise(() => Promise.all(busy.map((c) => new Promise<void>((resolve) => c.socket.once("data", () => resolve())))))
      for (const c of busy) assert.match(c.received(), /^HTTP\/1\.1 200 OK/)
    })
  )

  it.live("connections that never sent a request go before ones kept alive after an answer", () =>
    Effect.gen(function* () {
      const { port, release } = yield* server
      release()
      const kept = yield* answered(port, 2)
      const fresh = Array.from({ length: 2 }, () => connect(port))
      yield* Effect.promise(() => Promise.all(fresh.map((c) => c.connected)))
      const newcomer = connect(port)
      yield* Effect.promise(() => fresh[0]?.closed ?? Promise.resolve())
      assert.isFalse(kept.some((c) => c.socket.destroyed))
      for (const c of [...kept, ...fresh, newcomer]) c.socket.destroy()
    })
  )

  it.live("every other connection kept alive: the oldest of them makes room for a newcomer", () =>
    Effect.gen(function* () {
      const { port, release } = yield* server
      release()
      const kept = yield* answered(port, limits.maxConnections)
      const newcomer = connect(port)
      yield* Effect.promise(() => kept[0]?.closed ?? Promise.resolve())
      assert.isFalse(newcomer.socket.destroyed)
      assert.isFalse(kept.slice(1).some((c) => c.socket.destroyed))
      for (const c of [...kept, newcomer]) c.socket.destroy()
    })
  )
})
