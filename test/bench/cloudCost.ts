import { spawn } from "node:child_process"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { projectRoot } from "../support/projectRoot.ts"
import type { ClientFloorResult } from "./bareCloudKmsClient.ts"
import { trackChild } from "./cleanup.ts"
import type { LoadResult } from "./loadResult.ts"
import type { BenchServices } from "./protos.ts"
import { cell } from "./report.ts"
import { runLoadGenerator } from "./runLoad.ts"
import type { OperationKind } from "./scenarios.ts"
import type { RunningServer } from "./serverProcess.ts"
import { type Spread, spreadOf } from "./stats.ts"

// The Cloud KMS cost set: what one Cloud KMS call costs the plugin, against
// what it cannot cost less than. Same fake Cloud KMS (20 ms a call), same
// concurrency (64), every side in its own process, in alternating order:
//  - client floor: the bare @google-cloud/kms client (bareCloudKmsClient.ts)
//    driving the fake alone: its CPU per call and calls/s;
//  - server floor: the bare grpc-js server (floorServer.ts) answering the
//    same KMS calls from the same load generator: its CPU per call, both when
//    it answers at once and when it answers after the fake's 20 ms (--delay-ms),
//    as the plugin must, which costs more (a timer, objects that outlive a
//    young-generation GC, smaller batches);
//  - the plugin on the CloudKms backend, driven by the load generator: its
//    CPU per call and calls/s.
// Each set gives plugin CPU/call ÷ (client floor + server floor held 20 ms),
// and ÷ (client floor + server floor answering at once), for Encrypt and for
// distinct Decrypts (a cold cache: no call joins another's); the report shows
// their median and spread over the sets.

const here = path.dirname(fileURLToPath(import.meta.url))
const concurrency = 64

export type CostOp = "encrypt" | "decrypt"
const ops: ReadonlyArray<CostOp> = ["encrypt", "decrypt"]
const loadKind: Record<CostOp, OperationKind> = { encrypt: "v2-encrypt", decrypt: "v2-decrypt-distinct" }

export interface CostSet {
  readonly set: number
  readonly order: ReadonlyArray<string>
  readonly client: Readonly<Record<CostOp, ClientFloorResult>>
  /** The server floor answering at once. */
  readonly serverFloor: Readonly<Record<CostOp, LoadResult>>
  /** The server floor answering after the fake Cloud KMS's latency, as the plugin must. */
  readonly serverFloorHeld: Readonly<Record<CostOp, LoadResult>>
  readonly plugin: Readonly<Record<CostOp, LoadResult>>
  /** plugin CPU/call ÷ (client floor + held server floor), this set's own figures. */
  readonly ratio: Readonly<Record<CostOp, number>>
  /** plugin CPU/call ÷ (client floor + server floor answering at once). */
  readonly ratioToInstantFloor: Readonly<Record<CostOp, number>>
}

export interface CostSummary {
  readonly clientCpuMicros: Spread
  readonly clientCallsPerSecond: Spread
  readonly serverFloorCpuMicros: Spread
  readonly serverFloorHeldCpuMicros: Spread
  readonly pluginCpuMicros: Spread
  readonly pluginCallsPerSecond: Spread
  /** Median (min–max) of the per-set ratios to client + held server floor. */
  readonly ratio: Spread
  /** Median (min–max) of the per-set ratios to client + instant server floor. */
  readonly ratioToInstantFloor: Spread
}

export interface CloudCostResults {
  readonly concurrency: number
  /** How long the held server floor keeps each call (the fake Cloud KMS's latency). */
  readonly heldMillis: number
  readonly sets: ReadonlyArray<CostSet>
  readonly summary: Readonly<Record<CostOp, CostSummary>>
  readonly problems: ReadonlyArray<string>
}

const failedClient = (op: CostOp, message: string): ClientFloorResult => ({
  op,
  concurrency,
  measuredMillis: 0,
  calls: 0,
  callsPerSecond: 0,
  cpuMicrosPerCall: Number.NaN,
  errors: 1,
  errorKinds: { [message]: 1 }
})

const decodeClientFloor = (op: CostOp, text: string): ClientFloorResult => {
  const parsed: unknown = JSON.parse(text)
  if (typeof parsed !== "object" || parsed === null) throw new Error("client floor result is not an object")
  const number = (name: string): number => {
    const value: unknown = Reflect.get(parsed, name)
    if (value === null) return Number.NaN
    if (typeof value !== "number") throw new Error(`client floor result: ${name} is not a number`)
    return value
  }
  const kinds: unknown = Reflect.get(parsed, "errorKinds")
  const errorKinds: Record<string, number> = {}
  if (typeof kinds === "object" && kinds !== null) {
    for (const [message, count] of Object.entries(kinds)) if (typeof count === "number") errorKinds[message] = count
  }
  return {
    op,
    concurrency: number("concurrency"),
    measuredMillis: number("measuredMillis"),
    calls: number("calls"),
    callsPerSecond: number("callsPerSecond"),
    cpuMicrosPerCall: number("cpuMicrosPerCall"),
    errors: number("errors"),
    errorKinds
  }
}

/**
 * How long each measured process warms up: calls first (at a loaded
 * machine's 100 calls/s a 1 s warm-up would leave the JIT cold), then time.
 */
export interface CostTiming {
  readonly durationMillis: number
  readonly warmupMillis: number
  readonly channels: number
  readonly warmupCalls: number
}

/** The bare client in its own process against the fake. */
const runClientFloor = (fakeAddress: string, keyUri: string, op: CostOp, timing: CostTiming): Promise<ClientFloorResult> =>
  new Promise((resolve) => {
    const child = trackChild(
      spawn(
        process.execPath,
        [
          path.join(here, "bareCloudKmsClient.ts"),
          "--endpoint",
          fakeAddress,
          "--key",
          keyUri,
          "--op",
          op,
          "--concurrency",
          String(concurrency),
          "--duration-ms",
          String(timing.durationMillis),
          "--warmup-ms",
          String(timing.warmupMillis),
          "--warmup-calls",
          String(timing.warmupCalls)
        ],
        {
          cwd: projectRoot,
          stdio: ["ignore", "pipe", "pipe"],
          env: { ...process.env, GCE_METADATA_HOST: "127.0.0.1:9", METADATA_SERVER_DETECTION: "none" }
        }
      )
    )
    let stdout = ""
    let stderr = ""
    child.stdout?.on("data", (chunk: Buffer) => (stdout += chunk.toString()))
    child.stderr?.on("data", (chunk: Buffer) => (stderr += chunk.toString()))
    child.once("exit", (code, signal) => {
      if (code !== 0) return resolve(failedClient(op, `client floor failed: ${stderr.trim().split("\n")[0] ?? `exit ${code ?? signal}`}`))
      try {
        resolve(decodeClientFloor(op, stdout))
      } catch (error) {
        resolve(failedClient(op, `unreadable client floor result: ${String(error)}`))
      }
    })
  })

export interface CostSetUp {
  readonly fakeAddress: string
  readonly keyUri: string
  readonly startPlugin: () => Promise<RunningServer>
  /** The server floor, answering each call after `delayMillis` (0: at once). */
  readonly startFloor: (delayMillis: number) => Promise<RunningServer>
  readonly heldMillis: number
  readonly services: BenchServices
}

const loadsOn = async (start: () => Promise<RunningServer>, timing: CostTiming): Promise<Record<CostOp, LoadResult>> => {
  const server = await start()
  try {
    const encrypt = await runLoadGenerator(server, { ...timing, kind: loadKind.encrypt, concurrency, sampleRss: false })
    const decrypt = await runLoadGenerator(server, { ...timing, kind: loadKind.decrypt, concurrency, sampleRss: false })
    return { encrypt, decrypt }
  } finally {
    await server.stop()
  }
}

const fmt = (value: number, digits = 0) => (Number.isFinite(value) ? value.toFixed(digits) : "–")

export const runCloudCost = async (
  setUp: CostSetUp,
  options: CostTiming & { readonly sets: number },
  log: (line: string) => void
): Promise<CloudCostResults> => {
  const sets: Array<CostSet> = []
  for (let set = 1; set <= options.sets; set++) {
    // Alternate the order, so a drift in the machine's load favours no side.
    const sides = ["client", "server floor", "server floor held", "plugin"]
    const order = set % 2 === 1 ? sides : [...sides].reverse()
    let client: Record<CostOp, ClientFloorResult> | undefined
    let serverFloor: Record<CostOp, LoadResult> | undefined
    let serverFloorHeld: Record<CostOp, LoadResult> | undefined
    let plugin: Record<CostOp, LoadResult> | undefined
    for (const side of order) {
      if (side === "client") {
        const encrypt = await runClientFloor(setUp.fakeAddress, setUp.keyUri, "encrypt", options)
        const decrypt = await runClientFloor(setUp.fakeAddress, setUp.keyUri, "decrypt", options)
        client = { encrypt, decrypt }
      } else if (side === "server floor") {
        serverFloor = await loadsOn(() => setUp.startFloor(0), options)
      } else if (side === "server floor held") {
        serverFloorHeld = await loadsOn(() => setUp.startFloor(setUp.heldMillis), options)
      } else {
        plugin = await loadsOn(setUp.startPlugin, options)
      }
    }
    if (client === undefined || serverFloor === undefined || serverFloorHeld === undefined || plugin === undefined) {
      throw new Error("a side of the cost set did not run")
    }
    const c = client
    const f = serverFloor
    const h = serverFloorHeld
    const p = plugin
    const over = (floor: Record<CostOp, LoadResult>) => ({
      encrypt: p.encrypt.serverCpuMicrosPerOp / (c.encrypt.cpuMicrosPerCall + floor.encrypt.serverCpuMicrosPerOp),
      decrypt: p.decrypt.serverCpuMicrosPerOp / (c.decrypt.cpuMicrosPerCall + floor.decrypt.serverCpuMicrosPerOp)
    })
    const ratio = over(h)
    const ratioToInstantFloor = over(f)
    for (const op of ops) {
      log(
        `cloud cost set ${set} ${op}: client floor ${fmt(c[op].cpuMicrosPerCall)} µs/call (${fmt(c[op].callsPerSecond)}/s), ` +
          `server floor ${fmt(f[op].serverCpuMicrosPerOp)} µs/call (held ${setUp.heldMillis} ms: ${fmt(h[op].serverCpuMicrosPerOp)}), ` +
          `plugin ${fmt(p[op].serverCpuMicrosPerOp)} µs/call (${fmt(p[op].opsPerSecond)}/s): ` +
          `${fmt(ratio[op], 2)}× client + held server floor, ${fmt(ratioToInstantFloor[op], 2)}× client + instant server floor`
      )
    }
    sets.push({ set, order, client: c, serverFloor: f, serverFloorHeld: h, plugin: p, ratio, ratioToInstantFloor })
  }
  const summaryOf = (op: CostOp): CostSummary => ({
    clientCpuMicros: spreadOf(sets.map((s) => s.client[op].cpuMicrosPerCall)),
    clientCallsPerSecond: spreadOf(sets.map((s) => s.client[op].callsPerSecond)),
    serverFloorCpuMicros: spreadOf(sets.map((s) => s.serverFloor[op].serverCpuMicrosPerOp)),
    serverFloorHeldCpuMicros: spreadOf(sets.map((s) => s.serverFloorHeld[op].serverCpuMicrosPerOp)),
    pluginCpuMicros: spreadOf(sets.map((s) => s.plugin[op].serverCpuMicrosPerOp)),
    pluginCallsPerSecond: spreadOf(sets.map((s) => s.plugin[op].opsPerSecond)),
    ratio: spreadOf(sets.map((s) => s.ratio[op])),
    ratioToInstantFloor: spreadOf(sets.map((s) => s.ratioToInstantFloor[op]))
  })
  const problems: Array<string> = []
  for (const s of sets) {
    for (const op of ops) {
      for (const [side, errors, calls, kinds] of [
        ["client floor", s.client[op].errors, s.client[op].calls, s.client[op].errorKinds],
        ["server floor", s.serverFloor[op].errors, s.serverFloor[op].ops, s.serverFloor[op].errorKinds],
        ["held server floor", s.serverFloorHeld[op].errors, s.serverFloorHeld[op].ops, s.serverFloorHeld[op].errorKinds],
        ["plugin", s.plugin[op].errors, s.plugin[op].ops, s.plugin[op].errorKinds]
      ] as const) {
        if (errors > 0) problems.push(`cloud cost set ${s.set} ${side} ${op}: ${errors} error(s): ${Object.keys(kinds).join("; ")}`)
        if (calls === 0) problems.push(`cloud cost set ${s.set} ${side} ${op}: no calls`)
      }
    }
  }
  return {
    concurrency,
    heldMillis: setUp.heldMillis,
    sets,
    summary: { encrypt: summaryOf("encrypt"), decrypt: summaryOf("decrypt") },
    problems
  }
}

const times = (spread: Spread, sets: number): string =>
  sets > 1 ? `**${spread.median.toFixed(2)}×** (${spread.min.toFixed(2)}–${spread.max.toFixed(2)})` : `**${spread.median.toFixed(2)}×**`

export const cloudCostMarkdown = (results: CloudCostResults, latencyMillis: number): string => {
  const sets = results.sets.length
  const held = `${results.heldMillis} ms`
  const lines = [
    `### Cloud KMS cost per call (fake Cloud KMS, ${latencyMillis} ms per call, c=${results.concurrency}; ` +
      `${sets > 1 ? `median (min–max) of ${sets} sets` : "1 set"})`,
    "",
    `| call | client floor CPU µs/call | client floor calls/s | server floor CPU µs/call, answering at once / after ${held} | ` +
      `plugin CPU µs/call | plugin calls/s | plugin ÷ (client + server floor after ${held}) | plugin ÷ (client + server floor at once) |`,
    "|---|---:|---:|---:|---:|---:|---:|---:|"
  ]
  for (const op of ops) {
    const s = results.summary[op]
    lines.push(
      `| ${op === "encrypt" ? "v2 Encrypt" : "v2 Decrypt, distinct"} | ${cell(s.clientCpuMicros, sets)} | ${cell(s.clientCallsPerSecond, sets)} | ` +
        `${cell(s.serverFloorCpuMicros, sets)} / ${cell(s.serverFloorHeldCpuMicros, sets)} | ${cell(s.pluginCpuMicros, sets)} | ` +
        `${cell(s.pluginCallsPerSecond, sets)} | ${times(s.ratio, sets)} | ${times(s.ratioToInstantFloor, sets)} |`
    )
  }
  return `${lines.join("\n")}\n`
}
