import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http"
import type { Socket } from "node:net"

// The node:http server behind the health and metrics ports. Any process on
// the node can reach them (the static pod uses the host network), and every
// connection held costs this process a file descriptor and memory: left at
// Node's defaults (no connection cap, 60 s to send headers) a few thousand
// idle connections exhaust the plugin's descriptors and take the KMS socket,
// which the apiserver depends on, down with them.
//
// The legitimate clients are few and quick: the kubelet's probes (a fresh
// connection each, the request sent at once), one or two Prometheus
// scrapers, an operator's curl. So each listener holds at most
// `maxConnections`; a connection that arrives when all are held makes room
// by closing one that is not being answered (see admitConnections), so a
// flood of idle connections cannot lock a probe out; and a request must be
// in within seconds, or its connection is closed.

export interface HttpLimits {
  /**
   * Connections held per listener. Probes and scrapers need a handful; 128
   * leaves room for bursts of tooling (50 concurrent fetch() probes keep up to
   * 65 open) and costs at most 128 descriptors per listener.
   */
  readonly maxConnections: number
  /** From a connection's first byte (or its opening) to the end of the request headers. */
  readonly headersTimeoutMillis: number
  /** For the whole request (a GET has no body: little more than the headers). */
  readonly requestTimeoutMillis: number
  /** An idle keep-alive connection is closed after this. */
  readonly keepAliveTimeoutMillis: number
  /** How often Node checks the header and request timeouts (its default is 30 s). */
  readonly checkIntervalMillis: number
}

export const httpLimits: HttpLimits = {
  maxConnections: 128,
  headersTimeoutMillis: 2_000,
  requestTimeoutMillis: 5_000,
  keepAliveTimeoutMillis: 5_000,
  checkIntervalMillis: 500
}

/**
 * Keeps at most `max` connections. Past that, one that is not being
 * answered is closed: the oldest that has sent no request yet (idle, or
 * still sending its headers), else the oldest kept alive after an answer,
 * else (every other one busy) the newcomer. A connection whose request is
 * being answered is never cut.
 */
const admitConnections = (server: Server, max: number): void => {
  // Insertion order is age: the first entry is the oldest.
  const fresh = new Set<Socket>()
  const keptAlive = new Set<Socket>()
  const busy = new Map<Socket, number>()
  // Forgotten when closed by us at once: its "close" event comes a tick later.
  const open = new Set<Socket>()
  const forget = (socket: Socket) => {
    open.delete(socket)
    fresh.delete(socket)
    keptAlive.delete(socket)
    busy.delete(socket)
  }
  const oldest = (sockets: Set<Socket>): Socket | undefined => sockets.values().next().value

  server.on("connection", (socket: Socket) => {
    open.add(socket)
    fresh.add(socket)
    socket.once("close", () => forget(socket))
    if (open.size <= max) return
    const oldestFresh = oldest(fresh)
    const evicted = oldestFresh !== socket ? oldestFresh : (oldest(keptAlive) ?? socket)
    if (evicted === undefined) return
    forget(evicted)
    evicted.destroy()
  })

  const answering = (request: IncomingMessage, response: ServerResponse) => {
    const socket = request.socket
    fresh.delete(socket)
    keptAlive.delete(socket)
    busy.set(socket, (busy.get(socket) ?? 0) + 1)
    response.once("close", () => {
      const left = (busy.get(socket) ?? 1) - 1
      if (left > 0) {
        busy.set(socket, left)
      } else if (busy.delete(socket) && open.has(socket) && !socket.destroyed) {
        keptAlive.add(socket)
      }
    })
  }
  server.on("request", answering)
  server.on("checkContinue", answering)
}

/** A node:http server with the limits above; handed to NodeHttpServer, which listens and serves. */
export const makeGuardedServer = (limits: HttpLimits = httpLimits): Server => {
  const server = createServer({
    headersTimeout: limits.headersTimeoutMillis,
    requestTimeout: limits.requestTimeoutMillis,
    keepAliveTimeout: limits.keepAliveTimeoutMillis,
    connectionsCheckingInterval: limits.checkIntervalMillis
  })
  admitConnections(server, limits.maxConnections)
  // Node's own ceiling, enforced before any listener runs: one above ours,
  // room for the newcomer that makes us evict.
  server.maxConnections = limits.maxConnections + 1
  return server
}
