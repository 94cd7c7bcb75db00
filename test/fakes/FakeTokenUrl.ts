import * as http from "node:http"
import type { AddressInfo } from "node:net"
import * as Effect from "effect/Effect"

// Loopback servers the test drives request by request: a token-url whose
// every request waits for the test to answer it, and a metadata server
// answering a given JSON body. For the hosted-master credential tests.

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

const portOf = (address: AddressInfo | string | null): number => {
  if (address === null || typeof address === "string") throw new Error(`not a TCP address: ${address}`)
  return address.port
}

const listen = (server: http.Server) =>
  Effect.acquireRelease(
    Effect.callback<number>((resume) => {
      server.listen(0, "127.0.0.1", () => resume(Effect.sync(() => portOf(server.address()))))
    }),
    () =>
      Effect.callback<void>((resume) => {
        server.closeAllConnections()
        server.close(() => resume(Effect.void))
      })
  )

/** An HTTP server on loopback whose requests wait until the test answers them. */
export const scriptedServer = Effect.gen(function*() {
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
  const port = yield* listen(server)
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

/** A token-url reply: {accessToken, expireTime}. */
export const tokenReply = (accessToken: string, expiresAt: number) => JSON.stringify({ accessToken, expireTime: new Date(expiresAt).toISOString() })

/** A GCE metadata server whose token endpoint answers `reply` (as JSON); GCE_METADATA_HOST points at it while the scope lasts. */
export const metadataAnswering = (reply: unknown) =>
  Effect.gen(function*() {
    const server = http.createServer((request, response) => {
      if (request.headers["metadata-flavor"] !== "Google" || !request.url?.startsWith("/computeMetadata/v1/instance/service-accounts/default/token")) {
        response.writeHead(404).end()
        return
      }
      response.writeHead(200, { "content-type": "application/json", "metadata-flavor": "Google" }).end(JSON.stringify(reply))
    })
    const port = yield* listen(server)
    const previous = process.env.GCE_METADATA_HOST
    yield* Effect.acquireRelease(
      Effect.sync(() => {
        process.env.GCE_METADATA_HOST = `127.0.0.1:${port}`
      }),
      () =>
        Effect.sync(() => {
          if (previous === undefined) delete process.env.GCE_METADATA_HOST
          else process.env.GCE_METADATA_HOST = previous
        })
    )
  })
