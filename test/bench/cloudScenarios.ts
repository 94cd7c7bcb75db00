import { spawn } from "node:child_process"
import { randomBytes, timingSafeEqual } from "node:crypto"
import * as path from "node:path"
import { status as grpcStatus } from "@grpc/grpc-js"
import { projectRoot } from "../support/projectRoot.ts"
import { trackChild } from "./cleanup.ts"
import { type CloudCostResults, type CostTiming, cloudCostMarkdown, runCloudCost } from "./cloudCost.ts"
import { type KmsClient, makeKmsClient } from "./kmsClient.ts"
import type { BenchServices } from "./protos.ts"
import { runLoadGenerator } from "./runLoad.ts"
import { type RunningServer, startServer } from "./serverProcess.ts"

// The plugin on the CloudKms backend against the fake Cloud KMS server (its
// own process) with 20 ms added to every call, as a remote KMS would:
//  - cost per call (cloudCost.ts): the plugin's CPU per Cloud KMS call
//    against the bare @google-cloud/kms client's plus the bare grpc-js
//    server's, in alternating sets;
//  - cold-start storm: a freshly started plugin gets N distinct v1beta1
//    Decrypts at concurrency 64, as an apiserver filling its cache after a
//    restart. It cannot end sooner than N × 20 ms / 64 (latency) nor than N
//    calls at the floors' CPU cost on the plugin's one thread (measured in
//    the same run); we report the ratio to the larger of the two.
//  - identical-decrypt burst: M identical v2 Decrypts at once must cost one
//    Cloud KMS call (read from the plugin's own metrics).
//  - rate limit: Encrypts at c=64 through --kms-qps-limit 200 (burst 50),
//    against a fake of its own that refuses calls beyond 300 in any second:
//    the calls/s the limit lets through, and that Cloud KMS refused none.

const keyUri = "projects/bench/locations/global/keyRings/bench/cryptoKeys/bench"
export const cloudLatencyMillis = 20
export const stormConcurrency = 64

export interface CloudResults {
  readonly cost: CloudCostResults
  readonly storm: {
    readonly decrypts: number
    readonly concurrency: number
    readonly wallMillis: number
    /** N × latency / concurrency: the bound latency alone sets. */
    readonly idealMillis: number
    readonly ratioToIdeal: number
    /** N × (client floor + held server floor CPU per Decrypt): the bound one thread at the floors' cost sets. */
    readonly floorCpuMillis: number
    /** wall ÷ the larger bound. */
    readonly ratioToFloor: number
    readonly errors: number
    readonly wrongPlaintexts: number
  }
  readonly burst: {
    readonly decrypts: number
    readonly cloudKmsCalls: number
    readonly coalesced: number
    readonly errors: number
  }
  /** Encrypt at c=64 through --kms-qps-limit, against a fake that enforces a quota above it. */
  readonly rateLimit: {
    readonly qpsLimit: number
    readonly burst: number
    readonly quotaPerSecond: number
    readonly callsPerSecond: number
    readonly p50Millis: number
    readonly errors: number
    /** RESOURCE_EXHAUSTED answers the plugin got from Cloud KMS (from its metrics): 0 while the limit holds. */
    readonly refusedByCloudKms: number
  }
}

const rateLimitQps = 200
const rateLimitBurst = 50
// The fake counts any one second: burst + qps = 250 calls at most may leave in one.
const rateLimitQuota = 300

/** The plugin at --kms-qps-limit 200 (burst 50) against a fake of its own enforcing 300 Encrypt/Decrypt calls a second. */
const runRateLimited = async (
  pluginCommand: ReadonlyArray<string>,
  services: BenchServices,
  timing: CostTiming,
  log: (line: string) => void
): Promise<CloudResults["rateLimit"]> => {
  const fake = await startFakeCloudKms(["--quota", String(rateLimitQuota)])
  try {
    const plugin = await startCloudPlugin(pluginCommand, fake.address, services, [
      "--kms-qps-limit",
      String(rateLimitQps),
      "--kms-burst",
      String(rateLimitBurst)
    ])
    try {
      const result = await runLoadGenerator(plugin, { ...timing, kind: "v2-encrypt", concurrency: stormConcurrency, sampleRss: false })
      const refusedByCloudKms = await metric(plugin, "kms_plugin_cloudkms_calls_total", 'outcome="RESOURCE_EXHAUSTED"')
      log(
        `cloud rate limit: --kms-qps-limit ${rateLimitQps} --kms-burst ${rateLimitBurst} against a ${rateLimitQuota}/s quota: ${result.opsPerSecond.toFixed(0)} calls/s, ` +
          `p50 ${result.p50Millis.toFixed(0)} ms, ${result.errors} errors, ${refusedByCloudKms} refused by Cloud KMS`
      )
      return {
        qpsLimit: rateLimitQps,
        burst: rateLimitBurst,
        quotaPerSecond: rateLimitQuota,
        callsPerSecond: result.opsPerSecond,
        p50Millis: result.p50Millis,
        errors: result.errors,
        refusedByCloudKms
      }
    } finally {
      await plugin.stop()
    }
  } finally {
    fake.stop()
  }
}

export const startFakeCloudKms = (extraArgs: ReadonlyArray<string> = []): Promise<{ address: string; stop: () => void }> =>
  new Promise((resolve, reject) => {
    const child = trackChild(
      spawn(
        process.execPath,
        [
          path.join(projectRoot, "test/fakes/runFakeCloudKms.ts"),
          "--port",
          "0",
          "--key",
          keyUri,
          "--latency",
          `${cloudLatencyMillis}ms`,
          ...extraArgs
        ],
        { cwd: projectRoot, stdio: ["ignore", "pipe", "pipe"] }
      )
    )
    let out = ""
    child.stdout?.on("data", (chunk: Buffer) => {
      out += chunk.toString()
      const address = /listening on (\S+)/.exec(out)?.[1]
      if (address !== undefined) resolve({ address, stop: () => void child.kill("SIGTERM") })
    })
    child.once("exit", (code) => reject(new Error(`fake Cloud KMS exited (${code}) before listening`)))
  })

export const startCloudPlugin = (
  pluginCommand: ReadonlyArray<string>,
  address: string,
  services: BenchServices,
  extraArgs: ReadonlyArray<string> = []
) =>
  startServer(
    {
      command: pluginCommand,
      argsFor: (socket) => [
        ...extraArgs,
        "--kms-backend",
        "cloud",
        "--key-uri",
        keyUri,
        "--kms-endpoint",
        address,
        "--kms-insecure",
        "--path-to-unix-socket",
        socket,
        "--healthz-port",
        "0",
        "--log-level",
        "info",
        "--log-format",
        "text"
      ]
    },
    services,
    { cwd: projectRoot, readyAttempts: 1000, retryMillis: 10 },
    {
      GCE_METADATA_HOST: "127.0.0.1:9",
      METADATA_SERVER_DETECTION: "none"
    }
  )

/** A counter from the plugin's /metrics (summed over the series that match); the health server's URL is in its log. */
const metric = async (server: RunningServer, name: string, labels: string): Promise<number> => {
  for (let i = 0; i < 500; i++) {
    const url = /health server on (http:\/\/\S+)/.exec(server.stderr())?.[1]
    if (url !== undefined) {
      const text = await (await fetch(`${url}/metrics`)).text()
      return text
        .split("\n")
        .filter((l) => (l.startsWith(`${name}{`) || l.startsWith(`${name} `)) && l.includes(labels))
        .reduce((sum, line) => sum + Number(line.slice(line.lastIndexOf(" ") + 1)), 0)
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
    await Promise.all(
      Array.from({ length: stormConcurrency }, async () => {
        for (let i = next++; i < plaintexts.length; i = next++)
          ciphertexts[i] = await makerClient.v1Encrypt(plaintexts[i] ?? new Uint8Array())
      })
    )
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
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
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
    })
  )
  return { wallMillis: performance.now() - started, errors, wrongPlaintexts: wrong, lateCalls: late, slowestMillis: slowest, errorKinds }
}

const startFloor = (services: BenchServices, delayMillis: number) =>
  startServer(
    {
      command: [process.execPath, path.join(projectRoot, "test/bench/floorServer.ts")],
      argsFor: (socket) => ["--socket", socket, "--delay-ms", String(delayMillis)]
    },
    services,
    { cwd: projectRoot, readyAttempts: 1000, retryMillis: 10 }
  )

export const runCloudScenarios = async (
  pluginCommand: ReadonlyArray<string>,
  services: BenchServices,
  sizes: { readonly stormDecrypts: number; readonly burstDecrypts: number; readonly sets: number } & CostTiming,
  log: (line: string) => void
): Promise<CloudResults> => {
  const fake = await startFakeCloudKms()
  try {
    const cost = await runCloudCost(
      {
        fakeAddress: fake.address,
        keyUri,
        services,
        startPlugin: () => startCloudPlugin(pluginCommand, fake.address, services),
        startFloor: (delayMillis) => startFloor(services, delayMillis),
        heldMillis: cloudLatencyMillis
      },
      sizes,
      log
    )

    // Ciphertexts to decrypt, made through a first plugin.
    const stormCase = await makeStormCase(pluginCommand, fake.address, services, sizes.stormDecrypts)

    // The storm, on a plugin that has just started.
    const plugin = await startCloudPlugin(pluginCommand, fake.address, services)
    try {
      const client = makeKmsClient(plugin.target, services, { channels: 4, deadlineMillis: 30_000 })
      const storm = await runStorm(client, stormCase, stormConcurrency, 30_000)
      const idealMillis = (sizes.stormDecrypts * cloudLatencyMillis) / stormConcurrency
      const floors = cost.summary.decrypt
      const floorCpuMillis = (sizes.stormDecrypts * (floors.clientCpuMicros.median + floors.serverFloorHeldCpuMicros.median)) / 1000
      log(
        `cloud storm: ${sizes.stormDecrypts} v1beta1 decrypts at c=${stormConcurrency} in ${storm.wallMillis.toFixed(0)} ms ` +
          `(latency bound ${idealMillis.toFixed(0)} ms, floors' CPU ${floorCpuMillis.toFixed(0)} ms)`
      )

      // The burst: one v2 ciphertext, decrypted by many callers at once.
      const seed = randomBytes(32)
      const encrypted = await client.v2Encrypt(seed, "burst")
      const label = 'operation="decrypt",outcome="OK"'
      const before = await metric(plugin, "kms_plugin_cloudkms_calls_total", label)
      const joinedBefore = await metric(plugin, "kms_plugin_decrypt_coalesced_total", "")
      let burstErrors = 0
      await Promise.all(
        Array.from({ length: sizes.burstDecrypts }, async (_, i) => {
          try {
            const plain = await client.v2Decrypt(encrypted, `burst-${i}`)
            if (!timingSafeEqual(plain, seed)) burstErrors++
          } catch {
            burstErrors++
          }
        })
      )
      const cloudKmsCalls = (await metric(plugin, "kms_plugin_cloudkms_calls_total", label)) - before
      const coalesced = (await metric(plugin, "kms_plugin_decrypt_coalesced_total", "")) - joinedBefore
      log(`cloud burst: ${sizes.burstDecrypts} identical v2 decrypts cost ${cloudKmsCalls} Cloud KMS call(s)`)
      client.close()
      const rateLimit = await runRateLimited(pluginCommand, services, sizes, log)
      return {
        cost,
        rateLimit,
        storm: {
          decrypts: sizes.stormDecrypts,
          concurrency: stormConcurrency,
          wallMillis: storm.wallMillis,
          idealMillis,
          ratioToIdeal: storm.wallMillis / idealMillis,
          floorCpuMillis,
          ratioToFloor: storm.wallMillis / Math.max(idealMillis, floorCpuMillis),
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
    cloudCostMarkdown(results.cost, cloudLatencyMillis),
    `### Cloud KMS backend (fake Cloud KMS, ${cloudLatencyMillis} ms per call)`,
    "",
    "| scenario | result | target |",
    "|---|---:|---|",
    `| cold-start storm: ${results.storm.decrypts} distinct v1beta1 Decrypts, c=${results.storm.concurrency} | ` +
      `${results.storm.wallMillis.toFixed(0)} ms = **${results.storm.ratioToFloor.toFixed(2)}×** its floor ` +
      `(${Math.max(results.storm.idealMillis, results.storm.floorCpuMillis).toFixed(0)} ms: the larger of ${results.storm.idealMillis.toFixed(0)} ms ` +
      `latency-bound and ${results.storm.floorCpuMillis.toFixed(0)} ms of the floors' CPU); ` +
      `${results.storm.errors} errors, ${results.storm.wrongPlaintexts} wrong | ≤ 1.15× |`,
    `| burst: ${results.burst.decrypts} identical v2 Decrypts at once | **${results.burst.cloudKmsCalls}** Cloud KMS call(s), ` +
      `${results.burst.coalesced} joined; ${results.burst.errors} errors | 1 call |`,
    `| rate limit: v2 Encrypt c=${stormConcurrency}, \`--kms-qps-limit ${results.rateLimit.qpsLimit} --kms-burst ${results.rateLimit.burst}\`, ` +
      `fake quota ${results.rateLimit.quotaPerSecond} calls in any second | ` +
      `**${results.rateLimit.callsPerSecond.toFixed(0)}** calls/s (p50 ${results.rateLimit.p50Millis.toFixed(0)} ms); ` +
      `${results.rateLimit.refusedByCloudKms} refused by Cloud KMS, ${results.rateLimit.errors} errors | ≤ ${results.rateLimit.qpsLimit}/s, 0 refused |`,
    ""
  ].join("\n")

/** Errors and wrong answers fail the run; the ratios are reported, not asserted (noisy machines). */
export const cloudProblems = (results: CloudResults): ReadonlyArray<string> => [
  ...results.cost.problems,
  ...(results.storm.errors + results.storm.wrongPlaintexts > 0
    ? [`cloud storm: ${results.storm.errors} errors, ${results.storm.wrongPlaintexts} wrong plaintexts`]
    : []),
  ...(results.burst.errors > 0 ? [`cloud burst: ${results.burst.errors} errors`] : []),
  ...(results.rateLimit.errors > 0 ? [`cloud rate limit: ${results.rateLimit.errors} errors`] : [])
]
