import { EventEmitter } from "node:events"
import * as http from "node:http"
import * as Effect from "effect/Effect"
import { listenOnLoopback } from "../support/http.ts"

// GKE's token endpoint (gce.conf token-url), on loopback, two ways: one that
// answers on its own (checking the VM token and body), and one whose every
// request waits until the test answers it.

/** A token-url reply: {accessToken, expireTime}. */
export const tokenReply = (accessToken: string, expiresAt: number) =>
  JSON.stringify({ accessToken, expireTime: new Date(expiresAt).toISOString() })

export interface TokenEndpoint {
  readonly url: string
  /** Tokens served so far. */
  readonly served: () => number
  readonly events: EventEmitter<{ served: [{ readonly token: string; readonly authorization: string; readonly body: string }] }>
  /** What the next replies look like. */
  reply: (n: number) => { readonly status: number; readonly body: string }
}

/**
 * token-url: checks the VM token and body, replies {accessToken: "hosted-token-N", expireTime}
 * living `lifetimeMillis` from `now()` (the wall clock unless a test clock is given).
 */
export const tokenEndpoint = (options: {
  readonly vmToken: string
  readonly body: string
  readonly lifetimeMillis: number
  readonly now?: () => number
}) =>
  Effect.gen(function* () {
    const now = options.now ?? Date.now
    let served = 0
    const events = new EventEmitter<{ served: [{ readonly token: string; readonly authorization: string; readonly body: string }] }>()
    const endpoint: TokenEndpoint = {
      url: "",
      served: () => served,
      events,
      reply: (n) => ({ status: 200, body: tokenReply(`hosted-token-${n}`, now() + options.lifetimeMillis) })
    }
    const server = http.createServer((request, response) => {
      let body = ""
      request.on("data", (chunk: Buffer) => {
        body += chunk.toString()
      })
      request.on("end", () => {
        if (request.method !== "POST" || request.headers.authorization !== `Bearer ${options.vmToken}` || body !== options.body) {
          response.writeHead(401).end("unauthorized")
          return
        }
        served += 1
        const reply = endpoint.reply(served)
        response.writeHead(reply.status, { "content-type": "application/json" }).end(reply.body)
        events.emit("served", { token: `hosted-token-${served}`, authorization: request.headers.authorization, body })
      })
    })
    const port = yield* listenOnLoopback(server)
    return Object.assign(endpoint, { url: `http://127.0.0.1:${port}/v1/token` })
  })

export interface HeldRequest {
  readonly method: string
  readonly headers: http.IncomingHttpHeaders
  readonly body: string
  readonly reply: (status: number, body: string) => void
  /** Resolves if the client goes away before it is answered. */
  readonly abandoned: Promise<void>
}

export interface ScriptedServer {
  readonly url: string
  /** The next request that arrived (or will arrive), in arrival order. */
  readonly next: Effect.Effect<HeldRequest>
  /** Requests that arrived so far. */
  readonly arrived: () => number
}

/** A token-url whose requests wait until the test answers them. */
export const scriptedServer = Effect.gen(function* () {
  const waiting: Array<HeldRequest> = []
  const takers: Array<(request: HeldRequest) => void> = []
  let arrived = 0
  const server = http.createServer((request, response) => {
    let body = ""
    request.on("data", (chunk: Buffer) => {
      body += chunk.toString()
    })
    request.on("end", () => {
      arrived += 1
      const held: HeldRequest = {
        method: request.method ?? "",
        headers: request.headers,
        body,
        reply: (status, text) => {
          response.writeHead(status, { "content-type": "application/json" }).end(text)
        },
        abandoned: new Promise((resolve) => {
          response.on("close", () => {
            if (!response.writableFinished) resolve()
          })
        })
      }
      const taker = takers.shift()
      if (taker === undefined) waiting.push(held)
      else taker(held)
    })
  })
  const port = yield* listenOnLoopback(server)
  const next = Effect.callback<HeldRequest>((resume, signal) => {
    const ready = waiting.shift()
    if (ready !== undefined) return resume(Effect.succeed(ready))
    const taker = (request: HeldRequest) => resume(Effect.succeed(request))
    takers.push(taker)
    // A taker that lost a race must not swallow a later request.
    signal.addEventListener("abort", () => {
      const index = takers.indexOf(taker)
      if (index !== -1) takers.splice(index, 1)
    })
  })
  const scripted: ScriptedServer = { url: `http://127.0.0.1:${port}/v1/token`, next, arrived: () => arrived }
  return scripted
})
