import type * as http from "node:http"
import type { AddressInfo } from "node:net"
import * as Effect from "effect/Effect"
import type * as Scope from "effect/Scope"

// HTTP on loopback for tests: asking the plugin's health server, reading its
// Prometheus text, and serving the fakes (metadata server, token-url).

/** GET: status and body. */
export const get = async (url: string): Promise<{ readonly status: number; readonly body: string }> => {
  const response = await fetch(url)
  return { status: response.status, body: await response.text() }
}

/** GET as an Effect: status, body and content type. */
export const httpGet = (url: string) =>
  Effect.promise(async () => {
    const response = await fetch(url)
    return { status: response.status, body: await response.text(), contentType: response.headers.get("content-type") ?? "" }
  })

/** POST with no body: status and body. */
export const httpPost = (url: string) =>
  Effect.promise(async () => {
    const response = await fetch(url, { method: "POST" })
    return { status: response.status, body: await response.text() }
  })

/** Prometheus text → value of the first sample with this name and these labels (all of them), or undefined. */
export const sample = (text: string, name: string, labels: Readonly<Record<string, string>> = {}): number | undefined => {
  for (const line of text.split("\n")) {
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line)
    if (match === null || match[1] !== name) continue
    const found = Object.fromEntries([...(match[2] ?? "").matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((m) => [m[1], m[2]]))
    if (Object.entries(labels).every(([k, v]) => found[k] === v)) return Number(match[3])
  }
  return undefined
}

const portOf = (address: AddressInfo | string | null): number => {
  if (address === null || typeof address === "string") throw new Error(`not a TCP address: ${address}`)
  return address.port
}

/** Listens on 127.0.0.1, a free port; closed (every connection cut) with the scope. */
export const listenOnLoopback = (server: http.Server): Effect.Effect<number, never, Scope.Scope> =>
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
