import { spawn } from "node:child_process"
import { status as grpcStatus } from "@grpc/grpc-js"
import { randomBytes, timingSafeEqual } from "node:crypto"
import * as path from "node:path"
import { projectRoot } from "../support/projectRoot.ts"
import { trackChild } from "./cleanup.ts"
import { type KmsClient, makeKmsClient } from "./kmsClient.ts"
import type { BenchServices } from "./protos.ts"
import { type RunningServer, startServer } from "./serverProcess.ts"

// The plugin on the CloudKms backend against the fake Cloud KMS server (its
// own process) with 20 ms added to every call, as a remote KMS would:
//  - cold-start storm: a freshly started plugin gets N distinct v1beta1
//    Decrypts at concurrency 64, as an apiserver filling its cache after a
//    restart. Ideal wall time: N × 20 ms / 64; we report the ratio to it.
//  - identical-decrypt burst: M identical v2 Decrypts at once must cost one
//    Cloud KMS call (read from the plugin's own metrics).

const keyUri = "projects/bench/locations/global/keyRings/bench/cryptoKeys/bench"
export const cloudLatencyMillis = 20
export const stormConcurrency = 64

export interface CloudResults {
  readonly storm: {
    readonly decrypts: number
    readonly concurrency: number
    readonly wallMillis: number
    readonly idealMillis: number
    readonly ratioToIdeal: number
    readonly errors: number
    readonly wrongPlaintexts: number
  }
  readonly burst: {
    readonly decrypts: number
    readonly cloudKmsCalls: number
    readonly coalesced: number
    readonly errors: number
  }
}

export const startFakeCloudKms = (): Promise<{ address: string; stop: () => void }> =>
  new Promise((resolve, reject) => {
    const child = trackChild(spawn(process.execPath, [
      path.join(projectRoot, "test/fakes/runFakeCloudKms.ts"), "--port", "0", "--key", keyUri, "--latency", `${cloudLatencyMillis}ms`
    ], { cwd: projectRoot, stdio: ["ignore", "pipe", "pipe"] }))
    let out = ""
    child.stdout?.on("data", (chunk: Buffer) => {
      out += chunk.toString()
      const address = /listening on (\S+)/.exec(out)?.[1]
      if (address !== undefined) resolve({ address, stop: () => void child.kill("SIGTERM") })
    })
    child.once("exit", (code) => reject(new Error(`fake Cloud KMS exited (${code}) before listening`)))
  })

export const startCloudPlugin = (pluginCommand: ReadonlyArray<string>, address: string, services: BenchServices) =>
  startServer({
    command: pluginCommand,
    argsFor: (socket) => [
      "--kms-backend", "cloud", "--key-uri", keyUri, "--kms-endpoint", address, "--kms-insecure",
      "--path-to-unix-socket", socket, "--healthz-port", "0", "--log-level", "info", "--log-format", "text"
    ]
  }, services, { cwd: projectRoot, readyAttempts: 1000, retryMillis: 10 }, {
    GCE_METADATA_HOST: "127.0.0.1:9",
    METADATA_SERVER_DETECTION: "none"
  })

/** A counter from the plugin's /metrics; the health server's URL is in its log. */
const metric = async (server: RunningServer, name: string, labels: string): Promise<number> => {
  for (let i = 0; i < 500; i++) {
    const url = /health server on (http:\/\/\S+)/.exec(server.stderr())?.[1]
    if (url !== undefined) {
      const text = await (await fetch(`${url}/metrics`)).text()
      const line = text.split("\n").find((l) => (l.startsWith(`${name}{`) || l.startsWith(`${name} `)) && l.includes(labels))
      return line === undefined ? 0 : Number(line.slice(line.lastIndexOf(" ") + 1))
    }
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
  throw new Error("the plugin never logged its health server address")
}

export interface StormCase {
  readonly plaintexts: ReadonlyArray<Uint8Array>
  readonly ciphertexts: ReadonlyArray<Uint8Array>
}

/** N distinct v1beta1 ciphertexts, made through a plugin of their own (stopped after). */
export const makeStormCase = async (
  pluginCommand: ReadonlyArray<string>,
  fakeAddress: string,
  services: BenchServices,
  decrypts: number
): Promise<StormCase> => {
  const plaintexts = Array.from({ length: decrypts }, () => randomBytes(32))
  const ciphertexts: Array<Uint8Array> = new Array(plaintexts.length)
  const maker = await startCloudPlugin(pluginCommand, fakeAddress, services)
  try {
    const makerClient = makeKmsClient(maker.target, services, { channels: 4, deadlineMillis: 30_000 })
    let next = 0
    await Promise.all(Array.from({ length: stormConcurrency }, async () => {
      for (let i = next++; i < plaintexts.length; i = next++) ciphertexts[i] = await makerClient.v1Encrypt(plaintexts[i] ?? new Uint8Array())
    }))
    makerClient.close()
  } finally {
    await maker.stop()
  }
  return { plaintexts, ciphertexts }
}

export interface StormResult {
  readonly wallMillis: number
  readonly errors: number
  readonly wrongPlaintexts: number
  /** Answers after the caller's deadline, or DEADLINE_EXCEEDED. */
  readonly lateCalls: number
  readonly slowestMillis: number
  readonly errorKinds: Readonly<Record<string, number>>
}

const isDeadlineExceeded = (error: unknown): boolean =>
  typeof error === "object" && error !== null && "code" in error && error.code === grpcStatus.DEADLINE_EXCEEDED

/** Every ciphertext of the case decrypted once, `concurrency` at a time, each compared with its plaintext. */
export const runStorm = async (client: KmsClient, storm: StormCase, concurrency: number, deadlineMillis: number): Promise<StormResult> => {
  let errors = 0
  let wrong = 0
  let late = 0
  let slowest = 0
  const errorKinds: Record<string, number> = {}
  let next = 0
  const started = performance.now()
  await Promise.all(Array.from({ length: concurrency }, async () => {
    for (let i = next++; i < storm.ciphertexts.length; i = next++) {
      const callStarted = performance.now()
      try {
        const plain = await client.v1Decrypt(storm.ciphertexts[i] ?? new Uint8Array())
        const expected = storm.plaintexts[i] ?? new Uint8Array()
        if (plain.length !== expected.length || !timingSafeEqual(plain, expected)) wrong++
        if (performance.now() - callStarted > deadlineMillis) late++
      } catch (error) {
        errors++
        if (isDeadlineExceeded(error)) late++
        const message = error instanceof Error ? error.message : String(error)
        errorKinds[message] = (errorKinds[message] ?? 0) + 1
      }
      slowest = Math.max(slowest, performance.now() - callStarted)
    }
  }))
  return { wallMillis: performance.now() - started, errors, wrongPlaintexts: wrong, lateCalls: late, slowestMillis: slowest, errorKinds }
}

export const runCloudScenarios = async (
  pluginCommand: ReadonlyArray<string>,
  services: BenchServices,
  sizes: { readonly stormDecrypts: number; readonly burstDecrypts: number },
  log: (line: string) => void
): Promise<CloudResults> => {
  const fake = await startFakeCloudKms()
  try {
    // Ciphertexts to decrypt, made through a first plugin.
    const stormCase = await makeStormCase(pluginCommand, fake.address, services, sizes.stormDecrypts)

    // The storm, on a plugin that has just started.
    const plugin = await startCloudPlugin(pluginCommand, fake.address, services)
    try {
      const client = makeKmsClient(plugin.target, services, { channels: 4, deadlineMillis: 30_000 })
      const storm = await runStorm(client, stormCase, stormConcurrency, 30_000)
      const idealMillis = (sizes.stormDecrypts * cloudLatencyMillis) / stormConcurrency
      log(`cloud storm: ${sizes.stormDecrypts} v1beta1 decrypts at c=${stormConcurrency} in ${storm.wallMillis.toFixed(0)} ms (ideal ${idealMillis.toFixed(0)} ms)`)

      // The burst: one v2 ciphertext, decrypted by many callers at once.
      const seed = randomBytes(32)
      const encrypted = await client.v2Encrypt(seed, "burst")
      const label = "operation=\"decrypt\",outcome=\"OK\""
      const before = await metric(plugin, "kms_plugin_cloudkms_calls_total", label)
      const joinedBefore = await metric(plugin, "kms_plugin_decrypt_coalesced_total", "")
      let burstErrors = 0
      await Promise.all(Array.from({ length: sizes.burstDecrypts }, async (_, i) => {
        try {
          const plain = await client.v2Decrypt(encrypted, `burst-${i}`)
          if (!timingSafeEqual(plain, seed)) burstErrors++
        } catch {
          burstErrors++
        }
      }))
      const cloudKmsCalls = (await metric(plugin, "kms_plugin_cloudkms_calls_total", label)) - before
      const coalesced = (await metric(plugin, "kms_plugin_decrypt_coalesced_total", "")) - joinedBefore
      log(`cloud burst: ${sizes.burstDecrypts} identical v2 decrypts cost ${cloudKmsCalls} Cloud KMS call(s)`)
      client.close()
      return {
        storm: {
          decrypts: sizes.stormDecrypts,
          concurrency: stormConcurrency,
          wallMillis: storm.wallMillis,
          idealMillis,
          ratioToIdeal: storm.wallMillis / idealMillis,
          errors: storm.errors,
          wrongPlaintexts: storm.wrongPlaintexts
        },
        burst: { decrypts: sizes.burstDecrypts, cloudKmsCalls, coalesced, errors: burstErrors }
      }
    } finally {
      await plugin.stop()
    }
  } finally {
    fake.stop()
  }
}

export const cloudMarkdown = (results: CloudResults): string =>
  [
    `### Cloud KMS backend (fake Cloud KMS, ${cloudLatencyMillis} ms per call)`,
    "",
    "| scenario | result | target |",
    "|---|---:|---|",
    `| cold-start storm: ${results.storm.decrypts} distinct v1beta1 Decrypts, c=${results.storm.concurrency} | ` +
    `${results.storm.wallMillis.toFixed(0)} ms = **${results.storm.ratioToIdeal.toFixed(2)}×** ideal (${results.storm.idealMillis.toFixed(0)} ms); ` +
    `${results.storm.errors} errors, ${results.storm.wrongPlaintexts} wrong | ≤ 1.15× |`,
    `| burst: ${results.burst.decrypts} identical v2 Decrypts at once | **${results.burst.cloudKmsCalls}** Cloud KMS call(s), ` +
    `${results.burst.coalesced} joined; ${results.burst.errors} errors | 1 call |`,
    ""
  ].join("\n")

/** Errors and wrong answers fail the run; the ratios are reported, not asserted (noisy machines). */
export const cloudProblems = (results: CloudResults): ReadonlyArray<string> => [
  ...(results.storm.errors + results.storm.wrongPlaintexts > 0
    ? [`cloud storm: ${results.storm.errors} errors, ${results.storm.wrongPlaintexts} wrong plaintexts`]
    : []),
  ...(results.burst.errors > 0 ? [`cloud burst: ${results.burst.errors} errors`] : [])
]
