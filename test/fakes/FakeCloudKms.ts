import { EventEmitter } from "node:events"
import * as net from "node:net"
import * as grpc from "@grpc/grpc-js"
import * as Effect from "effect/Effect"
import { CallQuota, type Quota } from "./CallQuota.ts"
import { cloudKmsServices } from "./cloudKmsProtos.ts"
import { FakeKeyStore, type VersionState } from "./FakeKeyStore.ts"
import { type Fault, FaultInjector, type FaultRule, type KmsMethod, kmsMethods, type Latency } from "./FaultInjector.ts"
import { KmsStatusError } from "./KmsStatusError.ts"
import { handleDecrypt, handleEncrypt, handleGetCryptoKey, handleTestIamPermissions } from "./kmsHandlers.ts"
import { stringField } from "./requestFields.ts"

// A fake Google Cloud KMS gRPC server on loopback, for tests, benchmarks,
// soak runs and local development: Encrypt, Decrypt, GetCryptoKey and
// google.iam.v1.IAMPolicy/TestIamPermissions (everything else UNIMPLEMENTED),
// with control and fault-injection methods for tests.

export { grantablePermissions } from "./FakeKeyStore.ts"
export { kmsMethods } from "./FaultInjector.ts"
export type { Fault, FaultRule, KmsMethod, Latency, Quota, VersionState }

export interface FakeCloudKmsOptions {
  /** Crypto key names, projects/P/locations/L/keyRings/R/cryptoKeys/K; each starts with version 1 primary. */
  readonly keys: ReadonlyArray<string>
  /** 0 (default): an ephemeral port. */
  readonly port?: number
  /** Loopback only: 127.0.0.1 (default), another 127.x address, ::1 or localhost. */
  readonly host?: string
  /** Fixed latency added to every call. */
  readonly latencyMillis?: number
  /** Seed of the PRNG behind probabilistic faults and jitter (default 1). */
  readonly seed?: number
  /** How many recent requests `requests` keeps (default 10 000), so soak runs stay bounded. */
  readonly maxRequestsKept?: number
  /** Serve TLS with this key and certificate (PEM) instead of plaintext, so clients send call credentials. */
  readonly tls?: { readonly key: string; readonly cert: string }
  /** false: no google.iam.v1.IAMPolicy service, so TestIamPermissions is UNIMPLEMENTED (as from an emulator or a proxy). */
  readonly testIamPermissions?: boolean
  /** Enforce a quota from the start (see setQuota). */
  readonly quota?: Quota
}

/** What the fake remembers of a call: never the plaintext. */
export interface SeenRequest {
  readonly method: KmsMethod
  /** `name` of the request (`resource` for TestIamPermissions). */
  readonly name: string
  /** The `authorization` metadata the client sent, if any (a test fake: tokens are fake too). */
  readonly authorization: string | undefined
}

export interface FakeCloudKmsEvents {
  /** A call arrived (before latency and faults). */
  call: [SeenRequest]
  /** The fake answered a call with this status code. */
  answered: [SeenRequest, grpc.status]
  /** A call was cancelled (client cancel, deadline, connection drop) before the fake answered. */
  cancelled: [SeenRequest]
}

export interface FakeCloudKms {
  readonly host: string
  readonly port: number
  /** host:port, the apiEndpoint/port pair a client needs, or a grpc-js target. */
  readonly address: string
  /** Wait on these instead of sleeping, e.g. `await once(fake.events, "cancelled")`. */
  readonly events: EventEmitter<FakeCloudKmsEvents>
  /** Calls received per method, since start or resetCounters(). Live view. */
  readonly calls: Readonly<Record<KmsMethod, number>>
  /** Calls cancelled before an answer, per method. Live view. */
  readonly cancelled: Readonly<Record<KmsMethod, number>>
  /** The most recent requests, oldest first. Live view. */
  readonly requests: ReadonlyArray<SeenRequest>
  resetCounters(): void

  addKey(name: string): void
  /** Adds a version and makes it primary; returns its number. */
  rotate(cryptoKey: string): number
  /** DESTROYED is final (like Cloud KMS) and drops the key material. */
  setVersionState(cryptoKey: string, version: number, state: VersionState): void
  /** Only an ENABLED version can become primary. */
  setPrimary(cryptoKey: string, version: number): void
  /** Withholds these permissions on the key (TestIamPermissions leaves them out, calls needing them get PERMISSION_DENIED); [] restores all. */
  denyPermissions(cryptoKey: string, permissions: ReadonlyArray<string>): void

  /** At most N calls per second (sliding window) of the counted methods; beyond it RESOURCE_EXHAUSTED. undefined removes it. */
  setQuota(quota: Quota | undefined): void
  /** Calls answered RESOURCE_EXHAUSTED by the quota since start. Live view. */
  readonly quotaRefusals: () => number

  inject(rule: FaultRule): void
  /** Drops every injected fault and latency, back to the start options (latencyMillis); releases every hold. */
  clearFaults(): void
  /** Latency for one method, or for every method without its own ("all", the default); undefined removes it. */
  setLatency(latency: Latency | undefined, method?: KmsMethod | "all"): void
  /** Calls of `method` arriving from now on wait until the returned release() (then their latency and faults apply). */
  hold(method: KmsMethod): () => void

  /** Drops every connection and in-flight call, then serves again on the same port. */
  restart(): Promise<void>
  /** Drops every connection and in-flight call; idempotent. */
  stop(): Promise<void>
}

const isLoopback = (host: string): boolean => host === "localhost" || host === "::1" || /^127(\.\d{1,3}){3}$/.test(host)

const hostPort = (host: string, port: number): string => (host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`)

const zeroCounts = (): Record<KmsMethod, number> => ({ Encrypt: 0, Decrypt: 0, GetCryptoKey: 0, TestIamPermissions: 0 })

// Connections come through our own TCP listener and are handed to grpc-js
// (createConnectionInjector), so restart() and stop() can cut them abruptly,
// like a crash or a network drop: clients see UNAVAILABLE, not a polite GOAWAY.
const listen = (host: string, port: number, onConnection: (socket: net.Socket) => void): Promise<net.Server> =>
  new Promise((resolve, reject) => {
    const listener = net.createServer(onConnection)
    listener.once("error", reject)
    listener.listen({ host, port }, () => {
      listener.off("error", reject)
      resolve(listener)
    })
  })

const boundPort = (listener: net.Server): number => {
  const address = listener.address()
  if (address === null || typeof address === "string") throw new Error("the fake Cloud KMS listener has no TCP port")
  return address.port
}

type Handler = (request: unknown, faults: ReadonlyArray<Fault>) => object

export const startFakeCloudKms = async (options: FakeCloudKmsOptions): Promise<FakeCloudKms> => {
  const host = options.host ?? "127.0.0.1"
  if (!isLoopback(host)) throw new Error(`the fake Cloud KMS serves on loopback only, not ${host}`)
  const maxRequestsKept = options.maxRequestsKept ?? 10_000
  const store = new FakeKeyStore(options.keys)
  const injector = new FaultInjector(options.seed ?? 1)
  const startLatency = () => {
    if (options.latencyMillis !== undefined && options.latencyMillis > 0) injector.setLatency({ millis: options.latencyMillis })
  }
  startLatency()
  const events = new EventEmitter<FakeCloudKmsEvents>()
  const calls = zeroCounts()
  const cancelled = zeroCounts()
  const requests: Array<SeenRequest> = []
  const held = new Map<KmsMethod, Array<() => void>>()
  let quota = options.quota === undefined ? undefined : new CallQuota(options.quota)
  let quotaRefusals = 0

  // One grpc-js unary handler: count, delay, draw faults, answer, and notice
  // cancellation. grpc-js also emits "cancelled" after a normal end, hence `settled`.
  const unary =
    (method: KmsMethod, nameField: string, handle: Handler): grpc.handleUnaryCall<unknown, object> =>
    (call, callback) => {
      const auth = call.metadata.get("authorization")[0]
      const seen: SeenRequest = {
        method,
        name: stringField(call.request, nameField),
        authorization: typeof auth === "string" ? auth : undefined
      }
      calls[method] += 1
      requests.push(seen)
      if (requests.length > maxRequestsKept) requests.shift()
      events.emit("call", seen)
      const overQuota = quota !== undefined && !quota.admit(method, performance.now())
      if (overQuota) quotaRefusals += 1
      const faults: ReadonlyArray<Fault> = overQuota
        ? [
            {
              kind: "fail",
              code: grpc.status.RESOURCE_EXHAUSTED,
              message: "Quota exceeded for quota metric 'Cryptographic requests' (fake Cloud KMS quota)"
            }
          ]
        : injector.draw(method)
      let settled = false
      let timer: NodeJS.Timeout | undefined
      call.on("cancelled", () => {
        if (settled) return
        settled = true
        clearTimeout(timer)
        cancelled[method] += 1
        events.emit("cancelled", seen)
      })
      const answer = () => {
        if (settled || faults.some((fault) => fault.kind === "hang")) return
        settled = true
        let response: object
        try {
          const failure = faults.find((fault) => fault.kind === "fail")
          if (failure !== undefined)
            throw new KmsStatusError(failure.code, failure.message ?? `injected fault: ${grpc.status[failure.code]}`)
          response = handle(call.request, faults)
        } catch (error) {
          const code = error instanceof KmsStatusError ? error.code : grpc.status.INTERNAL
          callback({ code, details: error instanceof Error ? error.message : String(error) })
          events.emit("answered", seen, code)
          return
        }
        callback(null, response)
        events.emit("answered", seen, grpc.status.OK)
      }
      const proceed = () => {
        const delay = injector.delayMillis(method)
        if (delay > 0) timer = setTimeout(answer, delay)
        else answer()
      }
      const waiting = held.get(method)
      if (waiting === undefined) proceed()
      else waiting.push(proceed)
    }

  const services = cloudKmsServices()
  const server = new grpc.Server()
  // Methods left out answer UNIMPLEMENTED (grpc-js default handler).
  server.addService(services.kms, {
    Encrypt: unary("Encrypt", "name", (request, faults) => handleEncrypt(store, request, faults)),
    Decrypt: unary("Decrypt", "name", (request, faults) => handleDecrypt(store, request, faults)),
    GetCryptoKey: unary("GetCryptoKey", "name", (request, faults) => handleGetCryptoKey(store, request, faults))
  })
  if (options.testIamPermissions !== false) {
    server.addService(services.iam, {
      TestIamPermissions: unary("TestIamPermissions", "resource", (request) => handleTestIamPermissions(store, request))
    })
  }
  const credentials =
    options.tls === undefined
      ? grpc.ServerCredentials.createInsecure()
      : grpc.ServerCredentials.createSsl(
          null,
          [{ private_key: Buffer.from(options.tls.key), cert_chain: Buffer.from(options.tls.cert) }],
          false
        )
  const connections = server.createConnectionInjector(credentials)
  const sockets = new Set<net.Socket>()
  const accept = (socket: net.Socket) => {
    sockets.add(socket)
    socket.once("close", () => sockets.delete(socket))
    connections.injectConnection(socket)
  }
  const dropConnections = () => {
    for (const socket of sockets) socket.destroy()
  }
  let listener = await listen(host, options.port ?? 0, accept)
  const port = boundPort(listener)
  let stopped = false

  return {
    host,
    port,
    address: hostPort(host, port),
    events,
    calls,
    cancelled,
    requests,
    resetCounters: () => {
      for (const method of kmsMethods) {
        calls[method] = 0
        cancelled[method] = 0
      }
      requests.length = 0
    },
    addKey: (name) => store.addKey(name),
    rotate: (cryptoKey) => store.rotate(cryptoKey),
    setVersionState: (cryptoKey, version, state) => store.setVersionState(cryptoKey, version, state),
    setPrimary: (cryptoKey, version) => store.setPrimary(cryptoKey, version),
    denyPermissions: (cryptoKey, permissions) => store.denyPermissions(cryptoKey, permissions),
    setQuota: (next) => {
      quota = next === undefined ? undefined : new CallQuota(next)
    },
    quotaRefusals: () => quotaRefusals,
    inject: (rule) => injector.inject(rule),
    clearFaults: () => {
      injector.clear()
      startLatency()
      for (const [method, waiting] of [...held]) {
        held.delete(method)
        for (const proceed of waiting.splice(0)) proceed()
      }
    },
    setLatency: (latency, method) => injector.setLatency(latency, method),
    hold: (method) => {
      const waiting: Array<() => void> = []
      held.set(method, waiting)
      return () => {
        if (held.get(method) === waiting) held.delete(method)
        for (const proceed of waiting.splice(0)) proceed()
      }
    },
    restart: async () => {
      if (stopped) throw new Error("the fake Cloud KMS is stopped")
      // close() releases the port at once; the old connections are cut only
      // once the new listener is up, so reconnecting clients find it.
      const old = listener
      old.close()
      listener = await listen(host, port, accept)
      dropConnections()
    },
    stop: async () => {
      if (stopped) return
      stopped = true
      const closed = new Promise<void>((resolve) => listener.close(() => resolve()))
      dropConnections()
      connections.destroy()
      server.forceShutdown()
      await closed
    }
  }
}

/** The same server as a scoped Effect resource: stopped when the scope closes. */
export const fakeCloudKms = (options: FakeCloudKmsOptions) =>
  Effect.acquireRelease(
    Effect.promise(() => startFakeCloudKms(options)),
    (fake) => Effect.promise(() => fake.stop())
  )
