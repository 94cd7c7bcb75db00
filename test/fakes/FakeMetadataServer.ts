import { EventEmitter } from "node:events"
import * as http from "node:http"
import type { AddressInfo } from "node:net"
import * as Effect from "effect/Effect"

// Loopback stand-ins for GKE hosted-master credentials: the VM's metadata
// server (GCE_METADATA_HOST) and a token endpoint (gce.conf token-url).

export interface TokenEndpoint {
  readonly url: string
  /** Tokens served so far. */
  readonly served: () => number
  readonly events: EventEmitter<{ served: [{ readonly token: string; readonly authorization: string; readonly body: string }] }>
  /** What the next replies look like. */
  reply: (n: number) => { readonly status: number; readonly body: string }
}

const listen = (server: http.Server) =>
  Effect.acquireRelease(
    Effect.promise(() => new Promise<number>((resolve) => server.listen(0, "127.0.0.1", () => resolve((server.address() as AddressInfo).port)))),
    () => Effect.promise(() => new Promise<void>((resolve) => {
      server.closeAllConnections()
      server.close(() => resolve())
    }))
  )

/** The VM's metadata server: hands out `vmToken` to requests with Metadata-Flavor: Google. */
export const metadataServer = (vmToken: string) =>
  Effect.gen(function*() {
    const server = http.createServer((request, response) => {
      if (request.headers["metadata-flavor"] !== "Google" || !request.url?.startsWith("/computeMetadata/v1/instance/service-accounts/default/token")) {
        response.writeHead(404).end()
        return
      }
      response.writeHead(200, { "content-type": "application/json", "metadata-flavor": "Google" })
      response.end(JSON.stringify({ access_token: vmToken, expires_in: 3600, token_type: "Bearer" }))
    })
    const port = yield* listen(server)
    return { host: `127.0.0.1:${port}` }
  })

/** token-url: checks the VM token and body, replies {accessToken: "hosted-token-N", expireTime} living `lifetimeMillis`. */
export const tokenEndpoint = (options: { readonly vmToken: string; readonly body: string; readonly lifetimeMillis: number }) =>
  Effect.gen(function*() {
    let served = 0
    const events = new EventEmitter<{ served: [{ readonly token: string; readonly authorization: string; readonly body: string }] }>()
    const endpoint: TokenEndpoint = {
      url: "",
      served: () => served,
      events,
      reply: (n) => ({
        status: 200,
        body: JSON.stringify({ accessToken: `hosted-token-${n}`, expireTime: new Date(Date.now() + options.lifetimeMillis).toISOString() })
      })
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
    const port = yield* listen(server)
    return Object.assign(endpoint, { url: `http://127.0.0.1:${port}/v1/token` })
  })
