import { randomBytes, timingSafeEqual } from "node:crypto"
import { parseArgs } from "node:util"
import { crc32c } from "@aws-crypto/crc32c"
import { KeyManagementServiceClient } from "@google-cloud/kms"
import * as grpc from "@grpc/grpc-js"
import { PassThroughClient } from "google-auth-library"
import { cpuMicros } from "../support/procStats.ts"

// The client floor: the bare @google-cloud/kms client, alone in its process,
// driving the fake Cloud KMS in a closed loop at the plugin's concurrency.
// It is set up as the plugin's (plaintext channel, no credentials) and sends
// the same requests with the same per-call options (gax retries off, the
// attempt's timeout), checksums included, but computes none per call and
// checks no answer beyond the minimum that proves the call worked: whatever
// the plugin spends above this, plus the gRPC server floor, is its own code.
// Prints one JSON object: its own CPU per call (from /proc, as the servers'),
// calls/s, and errors.
//
//   node test/bench/bareCloudKmsClient.ts --endpoint 127.0.0.1:PORT --key projects/…/cryptoKeys/K \
//     --op encrypt|decrypt --concurrency 64 --duration-ms 5000 --warmup-ms 1000 [--warmup-calls 2000]

export interface ClientFloorResult {
  readonly op: "encrypt" | "decrypt"
  readonly concurrency: number
  readonly measuredMillis: number
  readonly calls: number
  readonly callsPerSecond: number
  readonly cpuMicrosPerCall: number
  readonly errors: number
  readonly errorKinds: Readonly<Record<string, number>>
}

/** Distinct ciphertexts decrypted in turn: more than the calls in flight, so none is asked twice at once. */
const decryptPoolSize = 1024

const attemptOptions = { retry: { retryCodes: [] }, timeout: 2_000 }

const main = async (): Promise<ClientFloorResult> => {
  const { values } = parseArgs({
    options: {
      endpoint: { type: "string" },
      key: { type: "string" },
      op: { type: "string" },
      concurrency: { type: "string", default: "64" },
      "duration-ms": { type: "string", default: "5000" },
      "warmup-ms": { type: "string", default: "1000" },
      "warmup-calls": { type: "string", default: "0" }
    }
  })
  const endpoint = values.endpoint
  const key = values.key
  const op = values.op
  if (endpoint === undefined || key === undefined || (op !== "encrypt" && op !== "decrypt")) {
    throw new Error(
      "usage: bareCloudKmsClient.ts --endpoint host:port --key KEY --op encrypt|decrypt [--concurrency n] [--duration-ms n] [--warmup-ms n]"
    )
  }
  const concurrency = Number(values.concurrency)
  const durationMillis = Number(values["duration-ms"])
  const warmupMillis = Number(values["warmup-ms"])
  const warmupCalls = Number(values["warmup-calls"])
  const colon = endpoint.lastIndexOf(":")
  const client = new KeyManagementServiceClient({
    apiEndpoint: endpoint.slice(0, colon),
    port: Number(endpoint.slice(colon + 1)),
    sslCreds: grpc.credentials.createInsecure(),
    authClient: new PassThroughClient()
  })
  await client.initialize()

  // A DEK seed is 32 bytes. Checksums are computed here, once, not per call.
  const plaintext = randomBytes(32)
  const encryptRequest = { name: key, plaintext, plaintextCrc32c: { value: crc32c(plaintext) } }
  const decryptRequests: Array<{ name: string; ciphertext: Uint8Array; ciphertextCrc32c: { value: number } }> = []
  if (op === "decrypt") {
    // Made before the window, `concurrency` at a time, with time to spare on a loaded machine.
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (decryptRequests.length < decryptPoolSize) {
          const [answer] = await client.encrypt(encryptRequest, { ...attemptOptions, timeout: 30_000 })
          const ciphertext = answer.ciphertext
          if (!(ciphertext instanceof Uint8Array)) throw new Error("Encrypt answered no ciphertext")
          decryptRequests.push({ name: key, ciphertext, ciphertextCrc32c: { value: crc32c(ciphertext) } })
        }
      })
    )
  }
  let next = 0
  const call =
    op === "encrypt"
      ? async () => {
          const [answer] = await client.encrypt(encryptRequest, attemptOptions)
          if (!(answer.ciphertext instanceof Uint8Array) || answer.ciphertext.length === 0) throw new Error("empty ciphertext")
        }
      : async () => {
          const request = decryptRequests[next++ % decryptRequests.length]
          if (request === undefined) throw new Error("no ciphertexts")
          const [answer] = await client.decrypt(request, attemptOptions)
          const plain = answer.plaintext
          if (!(plain instanceof Uint8Array) || plain.length !== plaintext.length || !timingSafeEqual(plain, plaintext)) {
            throw new Error("decrypt returned a different plaintext")
          }
        }

  // Calls before the timed warm-up, so a slow machine's JIT is warm (as for the servers).
  let warmed = 0
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (warmed++ < warmupCalls) await call()
    })
  )

  let calls = 0
  let errors = 0
  const errorKinds: Record<string, number> = {}
  let windowStart = Number.POSITIVE_INFINITY
  let windowEnd = Number.POSITIVE_INFINITY
  let cpuAtStart = 0
  let cpuAtEnd = 0
  const stopAt = performance.now() + warmupMillis + durationMillis
  const openWindow = () => {
    windowStart = performance.now()
    cpuAtStart = cpuMicros(process.pid)
  }
  const closeWindow = () => {
    if (windowEnd !== Number.POSITIVE_INFINITY) return
    if (windowStart === Number.POSITIVE_INFINITY) openWindow()
    windowEnd = performance.now()
    cpuAtEnd = cpuMicros(process.pid)
  }
  const opened = setTimeout(openWindow, warmupMillis)
  const closed = setTimeout(closeWindow, warmupMillis + durationMillis)
  const worker = async () => {
    while (performance.now() < stopAt) {
      try {
        await call()
        const done = performance.now()
        if (done >= windowStart && done <= windowEnd) calls++
      } catch (error) {
        errors++
        const message = error instanceof Error ? error.message : String(error)
        errorKinds[message] = (errorKinds[message] ?? 0) + 1
      }
    }
  }
  await Promise.all(Array.from({ length: concurrency }, worker))
  clearTimeout(opened)
  clearTimeout(closed)
  closeWindow()
  await client.close()
  const measuredMillis = windowEnd - windowStart
  return {
    op,
    concurrency,
    measuredMillis,
    calls,
    callsPerSecond: measuredMillis > 0 ? (calls * 1000) / measuredMillis : 0,
    cpuMicrosPerCall: calls === 0 ? Number.NaN : (cpuAtEnd - cpuAtStart) / calls,
    errors,
    errorKinds
  }
}

// A hung fake must not hang the bench.
setTimeout(() => {
  process.stderr.write("bare Cloud KMS client: no result in time, giving up\n")
  process.exit(1)
}, 600_000).unref()

main().then(
  (result) => {
    process.stdout.write(`${JSON.stringify(result)}\n`)
    process.exit(0)
  },
  (error: unknown) => {
    process.stderr.write(`bare Cloud KMS client failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`)
    process.exit(1)
  }
)
