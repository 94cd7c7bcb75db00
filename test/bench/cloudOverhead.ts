import { randomBytes } from "node:crypto"
import { EventEmitter } from "node:events"
import { parseArgs } from "node:util"
import type * as grpc from "@grpc/grpc-js"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as Option from "effect/Option"
import * as Scope from "effect/Scope"
import { IamProtos } from "google-gax"
import { PluginConfig } from "../../src/config/PluginConfig.ts"
import { CallObserver } from "../../src/grpc/CallObserver.ts"
import type { V2 } from "../../src/grpc/messages.ts"
import { type CallRunner, unaryCall } from "../../src/grpc/unaryCall.ts"
import { makeV2Handlers } from "../../src/grpc/V2Handlers.ts"
import * as CloudKms from "../../src/kms/cloud/CloudKms.ts"
import {
  type DecryptRequest,
  type DecryptResponse,
  type EncryptRequest,
  type EncryptResponse,
  type GaxCallOptions,
  type GaxKmsClient,
  makeCloudKmsApiOn
} from "../../src/kms/cloud/CloudKmsClient.ts"
import { crc32cOf } from "../../src/kms/cloud/Integrity.ts"
import { configFrom } from "../support/config.ts"

// What our own code costs per Cloud KMS call, in one process and without a
// network: the plugin's whole per-call path (unaryCall → V2 handler →
// CloudKms → retryingCall → CloudKmsApi) over a stand-in gax client that
// answers each call on the next turn of the event loop, against the same
// stand-in called directly. The difference is what our code (and Effect)
// adds to a call; no gRPC, HTTP/2 or protobuf work is in either. A
// development tool for cutting that cost (steadier than the end-to-end
// bench), not a figure for the README.
//
//   node test/bench/cloudOverhead.ts [--calls 20000] [--concurrency 64] [--rounds 5] [--only encrypt|decrypt|bare]

const keyUri = "projects/bench/locations/global/keyRings/bench/cryptoKeys/bench"
const version = `${keyUri}/cryptoKeyVersions/1`

/** A gax client stand-in: answers after a setImmediate (as gax does), honours the signal as gax does (one listener per call). */
const standIn = (): GaxKmsClient => {
  const answer = <A>(options: GaxCallOptions | undefined, value: A): Promise<readonly [A, undefined, undefined]> =>
    new Promise((resolve, reject) => {
      const signal = options?.signal
      const onAbort = () => reject(Object.assign(new Error("cancelled"), { code: 1, details: "cancelled" }))
      signal?.addEventListener("abort", onAbort, { once: true })
      setImmediate(() => {
        signal?.removeEventListener("abort", onAbort)
        resolve([value, undefined, undefined])
      })
    })
  return {
    initialize: () => Promise.resolve(),
    close: () => Promise.resolve(),
    encrypt: (request: EncryptRequest, options?: GaxCallOptions) => {
      // A ciphertext the size of Cloud KMS's for a 32-byte seed.
      const ciphertext = Buffer.alloc(110, request.plaintext instanceof Uint8Array ? (request.plaintext[0] ?? 0) : 0)
      const response: EncryptResponse = {
        name: version,
        ciphertext,
        ciphertextCrc32c: { value: String(crc32cOf(ciphertext)) },
        verifiedPlaintextCrc32c: true
      }
      return answer(options, response)
    },
    decrypt: (request: DecryptRequest, options?: GaxCallOptions) => {
      const plaintext = Buffer.from(request.ciphertext instanceof Uint8Array ? request.ciphertext.subarray(0, 32) : [])
      const response: DecryptResponse = { plaintext, plaintextCrc32c: { value: String(crc32cOf(plaintext)) } }
      return answer(options, response)
    },
    getCryptoKey: (_request, options) => answer(options, { name: keyUri, primary: { name: version, state: "ENABLED" as const } }),
    testIamPermissions: () => Promise.reject(new Error("not measured"))
  }
}

interface Measured {
  readonly cpuMicrosPerCall: number
  readonly callsPerSecond: number
}

/** `calls` calls of `one`, `concurrency` at a time, after a warm-up of the same size. */
const measure = async (calls: number, concurrency: number, one: (i: number) => Promise<void>): Promise<Measured> => {
  const run = async () => {
    let next = 0
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        for (let i = next++; i < calls; i = next++) await one(i)
      })
    )
  }
  await run()
  const cpu = process.cpuUsage()
  const started = performance.now()
  await run()
  const used = process.cpuUsage(cpu)
  const millis = performance.now() - started
  return { cpuMicrosPerCall: (used.user + used.system) / calls, callsPerSecond: (calls * 1000) / millis }
}

/** A grpc-js unary call as unaryCall sees it: a request, a deadline, a "cancelled" event. */
const serverCall = <Req>(request: Req, deadlineMillis: number) =>
  Object.assign(new EventEmitter(), { request, getDeadline: () => new Date(Date.now() + deadlineMillis) })

const main = async () => {
  const { values } = parseArgs({
    options: {
      calls: { type: "string", default: "20000" },
      concurrency: { type: "string", default: "64" },
      rounds: { type: "string", default: "5" },
      only: { type: "string" }
    }
  })
  const calls = Number(values.calls)
  const concurrency = Number(values.concurrency)
  const rounds = Number(values.rounds)
  const config = configFrom({ keyUri: Option.some(keyUri), kmsEndpoint: Option.some("127.0.0.1:1"), kmsInsecure: true })

  const setUp = Effect.gen(function* () {
    const api = yield* makeCloudKmsApiOn(standIn, (resource, permissions) =>
      IamProtos.google.iam.v1.TestIamPermissionsRequest.create({ resource, permissions: [...permissions] })
    )
    const kms = yield* CloudKms.make(api)
    const observer = yield* CallObserver
    const run: CallRunner = Effect.runCallbackWith(yield* Effect.context<never>())
    return { kms, observer, run }
  })
  const scope = await Effect.runPromise(Scope.make())
  const { kms, observer, run } = await Effect.runPromise(
    setUp.pipe(
      Effect.provide(Layer.mergeAll(PluginConfig.layerTest(config), CallObserver.layer, Logger.layer([]))),
      Effect.provideService(Scope.Scope, scope)
    )
  )
  const v2 = makeV2Handlers(kms, config)
  const encrypt = unaryCall<V2.EncryptRequest, V2.EncryptResponse>(
    run,
    { api: "v2", name: "Encrypt" },
    v2.Encrypt,
    (r) => r.uid,
    observer.observe
  )
  const decrypt = unaryCall<V2.DecryptRequest, V2.DecryptResponse>(
    run,
    { api: "v2", name: "Decrypt" },
    v2.Decrypt,
    (r) => r.uid,
    observer.observe
  )
  const bare = standIn()

  const plaintext = randomBytes(32)
  const through = <Req, Res>(handler: grpc.handleUnaryCall<Req, Res>, request: Req) =>
    new Promise<void>((resolve, reject) => {
      const call = serverCall(request, 3_000)
      // unaryCall reads only request, getDeadline and the "cancelled" event.
      Reflect.apply(handler, undefined, [call, (error: unknown) => (error === null ? resolve() : reject(error))])
    })
  const keyId = version
  const ciphertexts = Array.from({ length: 1024 }, () => randomBytes(110))

  const cases: Record<string, (i: number) => Promise<void>> = {
    bare: async (i) => {
      const controller = new AbortController()
      const options = { signal: controller.signal, retry: { retryCodes: [] }, timeout: 2_000 }
      await bare.encrypt({ name: version, plaintext, plaintextCrc32c: { value: i } }, options)
    },
    encrypt: (i) => through(encrypt, { plaintext, uid: `u${i}` }),
    decrypt: (i) =>
      through(decrypt, { ciphertext: ciphertexts[i % ciphertexts.length] ?? Buffer.alloc(1), uid: `u${i}`, keyId, annotations: {} })
  }
  const chosen = values.only === undefined ? Object.keys(cases) : [values.only]
  const results: Record<string, Array<number>> = {}
  for (let round = 0; round < rounds; round++) {
    for (const name of chosen) {
      const one = cases[name]
      if (one === undefined) throw new Error(`unknown case ${name}`)
      const m = await measure(calls, concurrency, one)
      results[name] = [...(results[name] ?? []), m.cpuMicrosPerCall]
    }
  }
  const median = (xs: ReadonlyArray<number>) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN
  const bareMedian = results["bare"] === undefined ? 0 : median(results["bare"])
  for (const [name, xs] of Object.entries(results)) {
    const m = median(xs)
    process.stdout.write(
      `${name.padEnd(8)} CPU µs/call median ${m.toFixed(1)} (${Math.min(...xs).toFixed(1)}–${Math.max(...xs).toFixed(1)})` +
        (name === "bare" ? "" : `, above bare ${(m - bareMedian).toFixed(1)}`) +
        "\n"
    )
  }
  await Effect.runPromise(Scope.close(scope, Exit.void))
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`)
    process.exit(1)
  }
)
