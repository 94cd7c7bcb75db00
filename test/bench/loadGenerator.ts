import * as crypto from "node:crypto"
import { parseArgs } from "node:util"
import { status as grpcStatus } from "@grpc/grpc-js"
import { cpuMicros, sampleRss } from "../support/procStats.ts"
import { type KmsClient, makeKmsClient, type V2Encrypted } from "./kmsClient.ts"
import type { LoadResult } from "./loadResult.ts"
import { loadServices } from "./protos.ts"
import { isOperationKind, type OperationKind } from "./scenarios.ts"
import { LatencyRecorder, percentile } from "./stats.ts"

// One closed-loop load run, in its own process so the client's CPU does not
// land on the server being measured (it still shares the machine's cores).
// `concurrency` workers each keep one call in flight; after the warm-up, calls
// that complete inside the measured window count. When given the server's
// pid, the server's CPU time is read at the window's edges, from here, so the
// window and the ops counted are exactly the same. Prints one JSON object.
//
//   node test/bench/loadGenerator.ts --target unix:///tmp/x/kms.sock \
//     --kind v2-encrypt --concurrency 16 --duration-ms 5000 --warmup-ms 1000 [--warmup-calls 2000]
//     [--plaintext-bytes 32] [--deadline-ms 10000] [--server-pid PID [--sample-rss]]

const positive = (name: string, raw: string | undefined, fallback: number): number => {
  const value = raw === undefined ? fallback : Number(raw)
  if (!Number.isFinite(value) || value < 0) throw new Error(`--${name} must be a non-negative number, got ${raw}`)
  return value
}

const isDeadlineExceeded = (error: unknown): boolean =>
  typeof error === "object" && error !== null && "code" in error && error.code === grpcStatus.DEADLINE_EXCEEDED

/** Ciphertexts a distinct-decrypt run cycles through. */
const distinctPoolSize = 1024

const sameBytes = (a: Uint8Array, b: Uint8Array): boolean => Buffer.compare(a, b) === 0

/** Builds the operation for a kind; setup calls (one Encrypt, one Status) happen here, unmeasured. */
const operationOf = async (kind: OperationKind, client: KmsClient, plaintextBytes: number): Promise<() => Promise<void>> => {
  // A DEK seed is 32 bytes; that is what the apiserver sends (the default).
  const plaintext = crypto.randomBytes(plaintextBytes)
  let uid = 0
  const nextUid = () => `bench-${uid++}`
  switch (kind) {
    case "v2-status":
      return async () => {
        const status = await client.v2Status()
        if (status.healthz !== "ok" || status.keyId === "") throw new Error(`unhealthy status: ${status.healthz}`)
      }
    case "v2-roundtrip":
      return async () => {
        const encrypted = await client.v2Encrypt(plaintext, nextUid())
        const decrypted = await client.v2Decrypt(encrypted, nextUid())
        if (!sameBytes(decrypted, plaintext)) throw new Error("round trip returned a different plaintext")
      }
    case "v2-encrypt": {
      const { keyId } = await client.v2Status()
      return async () => {
        const encrypted = await client.v2Encrypt(plaintext, nextUid())
        if (encrypted.ciphertext.length === 0) throw new Error("empty ciphertext")
        if (encrypted.keyId !== keyId) throw new Error(`key_id ${encrypted.keyId} is not Status's ${keyId}`)
      }
    }
    case "v2-decrypt": {
      const encrypted = await client.v2Encrypt(plaintext, nextUid())
      return async () => {
        const decrypted = await client.v2Decrypt(encrypted, nextUid())
        if (!sameBytes(decrypted, plaintext)) throw new Error("decrypt returned a different plaintext")
      }
    }
    case "v2-decrypt-distinct": {
      // Distinct ciphertexts in turn, more than the calls in flight: none is
      // decrypted twice at once, so no call joins another's (a cold cache).
      const pool: Array<{ readonly encrypted: V2Encrypted; readonly plaintext: Uint8Array }> = []
      await Promise.all(
        Array.from({ length: 64 }, async () => {
          while (pool.length < distinctPoolSize) {
            const seed = crypto.randomBytes(32)
            pool.push({ encrypted: await client.v2Encrypt(seed, nextUid()), plaintext: seed })
          }
        })
      )
      let next = 0
      return async () => {
        const item = pool[next++ % pool.length]
        if (item === undefined) throw new Error("no ciphertexts")
        const decrypted = await client.v2Decrypt(item.encrypted, nextUid())
        if (!sameBytes(decrypted, item.plaintext)) throw new Error("decrypt returned a different plaintext")
      }
    }
    case "v1beta1-encrypt":
      return async () => {
        const cipher = await client.v1Encrypt(plaintext)
        if (cipher.length === 0) throw new Error("empty cipher")
      }
  }
}

const main = async (): Promise<LoadResult> => {
  const { values } = parseArgs({
    options: {
      target: { type: "string" },
      kind: { type: "string" },
      concurrency: { type: "string" },
      "duration-ms": { type: "string" },
      "warmup-ms": { type: "string" },
      channels: { type: "string" },
      "server-pid": { type: "string" },
      "sample-rss": { type: "boolean", default: false },
      "plaintext-bytes": { type: "string" },
      "deadline-ms": { type: "string" },
      "warmup-calls": { type: "string" }
    }
  })
  const target = values.target
  const kind = values.kind
  if (target === undefined || kind === undefined || !isOperationKind(kind)) {
    throw new Error(
      "usage: loadGenerator.ts --target unix:///path --kind <kind> [--concurrency n] [--duration-ms n] [--warmup-ms n] [--warmup-calls n] " +
        "[--channels n] [--server-pid pid] [--sample-rss] [--plaintext-bytes n] [--deadline-ms n]"
    )
  }
  const concurrency = Math.max(1, Math.floor(positive("concurrency", values.concurrency, 1)))
  const durationMillis = positive("duration-ms", values["duration-ms"], 5000)
  const warmupMillis = positive("warmup-ms", values["warmup-ms"], 1000)
  const channels = Math.max(1, Math.floor(positive("channels", values.channels, 4)))
  const serverPid = values["server-pid"] === undefined ? undefined : positive("server-pid", values["server-pid"], 0)
  const warmupCalls = Math.floor(positive("warmup-calls", values["warmup-calls"], 0))
  const plaintextBytes = Math.max(1, Math.floor(positive("plaintext-bytes", values["plaintext-bytes"], 32)))
  const deadlineMillis = positive("deadline-ms", values["deadline-ms"], 10_000)

  const client = makeKmsClient(target, loadServices(), { channels, deadlineMillis })
  const operation = await operationOf(kind, client, plaintextBytes)
  // Calls before the timed warm-up, so a slow (loaded) machine's JIT has
  // compiled the whole path before anything is measured.
  let warmed = 0
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (warmed++ < warmupCalls) await operation()
    })
  )
  const rss = serverPid !== undefined && values["sample-rss"] ? sampleRss(serverPid, 50) : undefined

  const latencies = new LatencyRecorder()
  const errorKinds: Record<string, number> = {}
  let errors = 0
  // Over the whole run, warm-up included: answers past the caller's deadline
  // (or DEADLINE_EXCEEDED, the client giving up first), and the slowest answer.
  let lateCalls = 0
  let slowestMillis = 0
  let windowStart = Number.POSITIVE_INFINITY
  let windowEnd = Number.POSITIVE_INFINITY
  let cpuAtStart = 0
  let cpuAtEnd = 0
  // The generator's own CPU: tells whether the client, not the server, was the limit.
  let clientCpuAtStart = process.cpuUsage()
  let clientCpuMicros = 0
  const stopAt = performance.now() + warmupMillis + durationMillis

  // A hung server must not hang the bench: give up well after the planned end.
  setTimeout(
    () => {
      process.stderr.write("load generator: no result in time, giving up\n")
      process.exit(1)
    },
    warmupMillis + durationMillis + 60_000
  ).unref()

  const openWindow = () => {
    windowStart = performance.now()
    clientCpuAtStart = process.cpuUsage()
    if (serverPid !== undefined) cpuAtStart = cpuMicros(serverPid)
  }
  const closeWindow = () => {
    if (windowEnd !== Number.POSITIVE_INFINITY) return
    if (windowStart === Number.POSITIVE_INFINITY) openWindow()
    windowEnd = performance.now()
    const client = process.cpuUsage(clientCpuAtStart)
    clientCpuMicros = client.user + client.system
    if (serverPid !== undefined) cpuAtEnd = cpuMicros(serverPid)
  }
  const opened = setTimeout(openWindow, warmupMillis)
  const closed = setTimeout(closeWindow, warmupMillis + durationMillis)

  const worker = async () => {
    while (performance.now() < stopAt) {
      const started = performance.now()
      try {
        await operation()
        const done = performance.now()
        slowestMillis = Math.max(slowestMillis, done - started)
        // A round trip is two calls, each with its own deadline.
        if (done - started > deadlineMillis * (kind === "v2-roundtrip" ? 2 : 1)) lateCalls++
        if (done >= windowStart && done <= windowEnd) latencies.record(done - started)
      } catch (error) {
        slowestMillis = Math.max(slowestMillis, performance.now() - started)
        if (isDeadlineExceeded(error)) lateCalls++
        errors++
        const message = error instanceof Error ? error.message : String(error)
        errorKinds[message] = (errorKinds[message] ?? 0) + 1
      }
    }
  }
  await Promise.all(Array.from({ length: concurrency }, worker))
  clearTimeout(opened)
  clearTimeout(closed)
  // The timer may not have run yet when the last call ends past stopAt.
  closeWindow()
  const peakRss = rss?.stop()
  client.close()

  const measuredMillis = windowEnd - windowStart
  const sorted = latencies.sorted()
  const ops = latencies.size
  const serverCpu = serverPid === undefined ? Number.NaN : cpuAtEnd - cpuAtStart
  return {
    kind,
    concurrency,
    channels,
    measuredMillis,
    ops,
    opsPerSecond: measuredMillis > 0 ? (ops * 1000) / measuredMillis : 0,
    p50Millis: percentile(sorted, 0.5),
    p99Millis: percentile(sorted, 0.99),
    maxMillis: percentile(sorted, 1),
    errors,
    errorKinds,
    plaintextBytes,
    deadlineMillis,
    lateCalls,
    slowestMillis,
    serverCpuMicros: serverCpu,
    serverCpuMicrosPerOp: ops === 0 ? Number.NaN : serverCpu / ops,
    serverPeakRssMib: peakRss ?? Number.NaN,
    clientCpuMicrosPerOp: ops === 0 ? Number.NaN : clientCpuMicros / ops
  }
}

main().then(
  (result) => {
    process.stdout.write(`${JSON.stringify(result)}\n`)
    process.exit(0)
  },
  (error: unknown) => {
    process.stderr.write(`load generator failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`)
    process.exit(1)
  }
)
