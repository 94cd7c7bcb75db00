import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { monitorEventLoopDelay } from "node:perf_hooks"
import { status } from "@grpc/grpc-js"
import { type KmsMethod, kmsMethods } from "../fakes/FakeCloudKms.ts"
import { peakRssMib, rssMib } from "../support/procStats.ts"
import { startFakeProcess } from "./fakeControl.ts"
import { heapProbe, inspectorArgs, isInspectorLine } from "./heapProbe.ts"
import { type LeakHit, LeakScanner, scanSecrets } from "./leakScan.ts"
import { CiphertextPool, runLoad } from "./load.ts"
import type { Phase } from "./phases.ts"
import { makePlaintexts } from "./plaintexts.ts"
import { type PluginProcess, pluginEntry, spawnPlugin } from "./pluginProcess.ts"
import { makeSoakClient, type SoakClient } from "./soakClient.ts"
import { codeName, type MethodCounts, PhaseRecorder, percentile, round1, type Sample } from "./stats.ts"

// The soak: the real plugin entrypoint (a child process, CloudKms backend)
// against the fake Cloud KMS (another child process), under concurrent load
// on both APIs, through phases of injected faults. Counts what the client
// saw, checks what must never happen, and scans the plugin's whole log and
// every error message for the plaintexts it handled.
//
// The fake runs in its own process (fakeProcess.ts, driven over IPC) because
// this process's clock is the judge of late answers: the fake's work (its
// gRPC server, AES-GCM, fault timers) on this event loop would delay the
// client's callbacks and make the plugin look late. The driver still
// measures its own event loop delay per phase, reported next to the results.

export const soakKeyUri = "projects/soak-project/locations/us-east1/keyRings/soak-ring/cryptoKeys/soak-key"

export interface SoakConfig {
  readonly phases: ReadonlyArray<{ readonly phase: Phase; readonly durationMillis: number }>
  /** Each phase also runs until it has made this many calls: a slow machine gets as many faults and plaintexts as a fast one. */
  readonly minCallsPerPhase?: number
  readonly concurrency: number
  readonly seed: number
  /** Per-call deadline of the client (the apiserver's default is 3 s). */
  readonly deadlineMillis: number
  /** Run the bundle dist/main.mjs (what the image runs) rather than src/main.ts. */
  readonly built: boolean
  readonly logLevel: string
  readonly keyRefreshInterval: string
  /** Appended to the plugin's command line (e.g. retry knobs). */
  readonly pluginArgs: ReadonlyArray<string>
  /** Node options for the plugin process (e.g. --max-old-space-size=64 to turn a leak into a crash). */
  readonly nodeArgs: ReadonlyArray<string>
  /** Another plugin entry than `built` picks (e.g. a bundle built elsewhere). */
  readonly entry?: string
  /** Runs the plugin's command through another, e.g. into a cgroup (see pluginProcess.ts). */
  readonly wrap?: (argv: ReadonlyArray<string>) => ReadonlyArray<string>
  /** How much the plugin's live heap (after a full GC) may grow from the end of the first phase to the end, MiB. */
  readonly maxHeapGrowthMib: number
  /** The same for VmRSS (measured right after that GC), MiB. */
  readonly maxRssGrowthMib: number
  /** Progress lines. */
  readonly log: (line: string) => void
  /** Gets the plugin's whole stderr (its log) and stdout once it has exited. */
  readonly onLog?: (output: { readonly stderr: string; readonly stdout: string }) => void
}

export interface Check {
  readonly name: string
  readonly ok: boolean
  readonly detail: string
}

export interface Counts {
  readonly calls: number
  readonly successes: number
  readonly successRate: number
  readonly failuresByCode: Readonly<Record<string, number>>
  readonly wrongPlaintexts: number
  readonly badAnswers: number
  readonly lateCalls: number
  readonly unexpectedFailures: number
  readonly statusNotOk: number
  readonly latencyMillis: { readonly p50: number; readonly p99: number; readonly max: number }
  /** Deadline minus the slowest answer: how close the plugin came to answering late. */
  readonly minSlackMillis: number
}

export interface PhaseResult extends Counts {
  readonly name: string
  readonly description: string
  readonly plannedMillis: number
  /** Load time plus the drain of calls in flight. */
  readonly elapsedMillis: number
  readonly callsPerSecond: number
  readonly minSuccessRate: number | null
  readonly expectedCodes: ReadonlyArray<string>
  readonly byMethod: Readonly<Record<string, MethodCounts>>
  readonly rssStartMib: number
  readonly rssEndMib: number
  /** V8 heap in use after a full GC, once the phase's calls are over. */
  readonly liveHeapEndMib: number
  /** VmRSS right after that GC. */
  readonly rssAfterGcMib: number
  readonly faultEvents: Readonly<Record<string, number>>
  readonly fake: {
    readonly calls: Readonly<Record<KmsMethod, number>>
    readonly cancelled: Readonly<Record<KmsMethod, number>>
    /** Cloud KMS calls the plugin had neither finished nor cancelled once the load was over. */
    readonly leftInFlight: number
  }
  readonly driverLoopDelayMillis: { readonly p99: number; readonly max: number }
  readonly topErrors: ReadonlyArray<{ readonly code: string; readonly message: string; readonly count: number }>
  readonly samples: PhaseRecorder["samples"]
  readonly checks: ReadonlyArray<Check>
}

export interface SoakResult {
  readonly ok: boolean
  readonly startedAt: string
  readonly runtimeMillis: number
  readonly config: {
    readonly concurrency: number
    readonly minCallsPerPhase: number
    readonly seed: number
    readonly deadlineMillis: number
    readonly built: boolean
    readonly logLevel: string
    readonly keyRefreshInterval: string
    readonly pluginArgs: ReadonlyArray<string>
    readonly nodeArgs: ReadonlyArray<string>
    readonly maxHeapGrowthMib: number
    readonly maxRssGrowthMib: number
  }
  readonly machine: { readonly node: string; readonly cpus: number; readonly loadAverage: ReadonlyArray<number> }
  readonly plugin: {
    readonly command: ReadonlyArray<string>
    /** VmRSS after a full GC: before any load, after the first phase, at the end. */
    readonly rssStartMib: number
    readonly rssAfterFirstPhaseMib: number
    readonly rssEndMib: number
    /** VmHWM: the peak over the process's life. */
    readonly peakRssMib: number
    /** V8 heap in use after a full GC: before any load, after the first phase, at the end. */
    readonly liveHeapMib: { readonly idle: number; readonly afterFirstPhase: number; readonly end: number }
    readonly exit: { readonly code: number | null; readonly signal: string | null } | null
    readonly crashed: boolean
    readonly logBytes: number
    readonly logLines: number
    readonly logLevels: Readonly<Record<string, number>>
    readonly nonJsonLines: ReadonlyArray<string>
    readonly metrics: Readonly<Record<string, number>>
  }
  readonly phases: ReadonlyArray<PhaseResult>
  readonly total: Counts
  readonly leaks: {
    readonly plaintextsMade: number
    readonly scannedLogBytes: number
    readonly errorMessagesScanned: number
    readonly hitCount: number
    readonly hits: ReadonlyArray<LeakHit>
  }
  readonly checks: ReadonlyArray<Check>
}

const check = (name: string, ok: boolean, detail: string): Check => ({ name, ok, detail })

const minus = (after: Readonly<Record<KmsMethod, number>>, before: Readonly<Record<KmsMethod, number>>) =>
  Object.fromEntries(kmsMethods.map((method) => [method, after[method] - before[method]])) as Record<KmsMethod, number>

const countsOf = (recorders: ReadonlyArray<PhaseRecorder>, deadlineMillis: number): Counts => {
  const sum = (pick: (r: PhaseRecorder) => number) => recorders.reduce((total, r) => total + pick(r), 0)
  const failuresByCode: Record<string, number> = {}
  for (const r of recorders)
    for (const [code, n] of Object.entries(r.failuresByCode)) failuresByCode[code] = (failuresByCode[code] ?? 0) + n
  const all = Float64Array.from(recorders.flatMap((r) => r.latencies())).sort()
  const calls = sum((r) => r.calls)
  const successes = sum((r) => r.successes)
  const max = all.length === 0 ? 0 : (all[all.length - 1] ?? 0)
  return {
    calls,
    successes,
    successRate: calls === 0 ? 0 : successes / calls,
    failuresByCode,
    wrongPlaintexts: sum((r) => r.wrongPlaintexts),
    badAnswers: sum((r) => r.badAnswers),
    lateCalls: sum((r) => r.late),
    unexpectedFailures: sum((r) => r.unexpected),
    statusNotOk: sum((r) => r.statusNotOk),
    latencyMillis: { p50: round1(percentile(all, 50)), p99: round1(percentile(all, 99)), max: round1(max) },
    minSlackMillis: round1(deadlineMillis - max)
  }
}

/** Sums Prometheus samples by metric name and (for a few) by outcome label. */
const metricsSummary = (text: string): Record<string, number> => {
  const wanted = [
    "kms_plugin_cloudkms_calls_total",
    "kms_plugin_cloudkms_retries_total",
    "kms_plugin_cloudkms_integrity_failures_total",
    "kms_plugin_decrypt_coalesced_total",
    "kms_plugin_grpc_requests_total"
  ]
  const out: Record<string, number> = {}
  for (const line of text.split("\n")) {
    if (line.startsWith("#")) continue
    const match = /^([a-z_]+)(\{[^}]*\})?\s+([0-9.eE+-]+)$/.exec(line.trim())
    if (match === null) continue
    const [, name = "", labels = "", value = "0"] = match
    if (!wanted.includes(name)) continue
    out[name] = (out[name] ?? 0) + Number(value)
    const outcome = /outcome="([^"]+)"/.exec(labels)?.[1] ?? /code="([^"]+)"/.exec(labels)?.[1]
    if (outcome !== undefined) out[`${name}{${outcome}}`] = (out[`${name}{${outcome}}`] ?? 0) + Number(value)
  }
  return out
}

const fetchMetrics = async (plugin: PluginProcess): Promise<Record<string, number>> => {
  const line = plugin
    .stderr()
    .split("\n")
    .find((l) => /health server on http:\/\//.test(l))
  const url = line === undefined ? undefined : /(http:\/\/[0-9.:[\]a-z]+)/.exec(line)?.[1]
  if (url === undefined) return {}
  try {
    const response = await fetch(`${url}/metrics`, { signal: AbortSignal.timeout(5_000) })
    return metricsSummary(await response.text())
  } catch {
    return {}
  }
}

const scanLog = (stderr: string) => {
  const lines = stderr.split("\n").filter((line) => line.length > 0 && !isInspectorLine(line))
  const levels: Record<string, number> = {}
  const nonJson: Array<string> = []
  for (const line of lines) {
    try {
      const record: unknown = JSON.parse(line)
      const level = typeof record === "object" && record !== null && "level" in record ? String(record.level) : "?"
      levels[level] = (levels[level] ?? 0) + 1
    } catch {
      nonJson.push(line.slice(0, 300))
    }
  }
  return { lines: lines.length, levels, nonJson }
}

/** The plugin's own duration (ms) of the failed calls with these uids, from its "KMS call failed" log lines. */
const pluginMillisOf = (stderr: string, uids: ReadonlySet<string>): Map<string, number> => {
  const found = new Map<string, number>()
  if (uids.size === 0) return found
  for (const line of stderr.split("\n")) {
    if (!line.includes('"uid":"')) continue
    try {
      const record: unknown = JSON.parse(line)
      if (typeof record !== "object" || record === null || !("uid" in record) || !("seconds" in record)) continue
      if (typeof record.uid === "string" && uids.has(record.uid)) found.set(record.uid, round1(Number(record.seconds) * 1000))
    } catch {
      // Not a log record.
    }
  }
  return found
}

const withPluginMillis = (samples: PhaseRecorder["samples"], millis: ReadonlyMap<string, number>): PhaseRecorder["samples"] => {
  const enrich = (list: ReadonlyArray<Sample>) =>
    list.map((sample) => {
      const found = sample.uid === undefined ? undefined : millis.get(sample.uid)
      return found === undefined ? sample : { ...sample, pluginMillis: found }
    })
  return { wrong: enrich(samples.wrong), bad: enrich(samples.bad), late: enrich(samples.late), unexpected: enrich(samples.unexpected) }
}

export const runSoak = async (config: SoakConfig): Promise<SoakResult> => {
  const startedAt = new Date()
  const runStarted = performance.now()
  const { log } = config
  let register = (_plaintext: Buffer): void => {}
  const plaintexts = makePlaintexts(config.seed, (plaintext) => register(plaintext))
  const leakScanner = new LeakScanner(plaintexts.binaryMarker)
  register = (plaintext) => leakScanner.register(plaintext)

  const fake = await startFakeProcess({ keys: [soakKeyUri], seed: config.seed })
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "kms-soak-"))
  // Also on process.exit (a signal in run.ts), when `finally` does not run.
  const removeDir = () => fs.rmSync(dir, { recursive: true, force: true })
  process.once("exit", removeDir)
  const socket = path.join(dir, "kms.sock")
  const pluginArgs = [
    "--kms-backend",
    "cloud",
    "--key-uri",
    soakKeyUri,
    "--kms-endpoint",
    fake.address,
    "--kms-insecure",
    "--path-to-unix-socket",
    socket,
    "--healthz-port",
    "0",
    "--log-format",
    "json",
    "--log-level",
    config.logLevel,
    "--key-refresh-interval",
    config.keyRefreshInterval,
    ...config.pluginArgs
  ]
  let plugin: PluginProcess | undefined
  let client: SoakClient | undefined
  try {
    plugin = spawnPlugin(pluginArgs, {
      built: config.built,
      nodeArgs: [...inspectorArgs, ...config.nodeArgs],
      ...(config.entry === undefined ? {} : { entry: config.entry }),
      ...(config.wrap === undefined ? {} : { wrap: config.wrap })
    })
    const running = plugin
    const probe = heapProbe(await running.waitForLine(/^Debugger listening on ws:/))
    // A plugin gone or wedged gives NaN, which fails the memory checks; the soak still reports.
    const rssNow = () => {
      try {
        return running.alive() ? rssMib(running.pid) : Number.NaN
      } catch {
        return Number.NaN
      }
    }
    const liveHeapMib = () => (running.alive() ? probe.liveHeapMib().catch(() => Number.NaN) : Promise.resolve(Number.NaN))
    await running.waitForLine(/serving KMS/)
    log(`plugin pid ${running.pid} serving on ${socket}, fake Cloud KMS on ${fake.address}`)
    client = makeSoakClient(`unix://${socket}`, config.deadlineMillis)
    const first = await client.call("v2.Status", {})
    if (first.code !== status.OK || first.response?.["healthz"] !== "ok") {
      throw new Error(
        `the plugin is not healthy before the soak: ${codeName(first.code)} ${first.details} ${JSON.stringify(first.response)}`
      )
    }
    // Loaded and serving, before any load.
    const heapStartMib = await liveHeapMib()
    const rssStartMib = rssNow()
    // Once the first phase has warmed everything up (connections, caches, JIT): the reference for growth.
    let heapWarmMib = Number.NaN
    let rssWarmMib = Number.NaN
    const pool = new CiphertextPool(512)
    const target = { client, plaintexts, pool, keyUri: soakKeyUri }
    const results: Array<PhaseResult> = []
    const recorders: Array<PhaseRecorder> = []
    const errorMessages = new Map<string, number>()
    let rotated = 0

    for (const [index, { phase, durationMillis }] of config.phases.entries()) {
      if (!running.alive()) break
      const recorder = new PhaseRecorder(config.deadlineMillis, new Set(phase.expectedCodes))
      recorders.push(recorder)
      const faultEvents: Record<string, number> = {}
      const note = (event: string) => {
        const kind = event.startsWith("rotation") ? "rotation" : event
        if (kind === "rotation") rotated += 1
        faultEvents[kind] = (faultEvents[kind] ?? 0) + 1
      }
      const before = await fake.counters()
      const rssBefore = rssNow()
      const loopDelay = monitorEventLoopDelay({ resolution: 10 })
      loopDelay.enable()
      log(`phase ${phase.name} (${(durationMillis / 1000).toFixed(1)} s): ${phase.description}`)
      const started = performance.now()
      const stopFaults = await phase.start({ fake, keyUri: soakKeyUri, durationMillis, note })
      await runLoad(target, recorder, {
        concurrency: config.concurrency,
        seed: config.seed + 1_000 * (index + 1),
        endAt: started + durationMillis,
        minCalls: config.minCallsPerPhase ?? 0,
        stop: () => !running.alive()
      })
      await stopFaults()
      await fake.clearFaults()
      // Every client call has answered; the plugin must not still hold (or
      // have abandoned without cancelling) a Cloud KMS call. The bound covers
      // a background key check's attempt timeout.
      const leftInFlight = await fake.settle(5_000)
      const after = await fake.counters()
      const elapsedMillis = performance.now() - started
      loopDelay.disable()
      const rssAfter = rssNow()
      const heapAfter = await liveHeapMib()
      const rssAfterGc = rssNow()
      if (index === 0) {
        heapWarmMib = heapAfter
        rssWarmMib = rssAfterGc
      }
      for (const [message, count] of recorder.details) errorMessages.set(message, (errorMessages.get(message) ?? 0) + count)

      const counts = countsOf([recorder], config.deadlineMillis)
      const checks: Array<Check> = [
        check("no wrong plaintext", counts.wrongPlaintexts === 0, `${counts.wrongPlaintexts} wrong plaintexts`),
        check("no malformed answer", counts.badAnswers === 0, `${counts.badAnswers} malformed answers`),
        check("no answer after the deadline", counts.lateCalls === 0, `${counts.lateCalls} late or DEADLINE_EXCEEDED`),
        check(
          "only expected failure codes",
          counts.unexpectedFailures === 0,
          `${counts.unexpectedFailures} failures outside ${phase.expectedCodes.map(codeName).join(", ") || "(none expected)"}`
        ),
        check("no Cloud KMS call left in flight", leftInFlight === 0, `${leftInFlight} in flight at the fake after the load`),
        check("plugin alive", running.alive(), running.alive() ? "running" : "exited")
      ]
      if (phase.minSuccessRate !== undefined) {
        checks.push(
          check(
            `success rate ≥ ${(phase.minSuccessRate * 100).toFixed(1)}%`,
            counts.calls > 0 && counts.successRate >= phase.minSuccessRate,
            `${(counts.successRate * 100).toFixed(3)}% of ${counts.calls}`
          )
        )
      }
      const delay = { p99: round1(loopDelay.percentile(99) / 1e6), max: round1(loopDelay.max / 1e6) }
      results.push({
        name: phase.name,
        description: phase.description,
        plannedMillis: durationMillis,
        elapsedMillis: Math.round(elapsedMillis),
        callsPerSecond: round1(counts.calls / (durationMillis / 1000)),
        minSuccessRate: phase.minSuccessRate ?? null,
        expectedCodes: phase.expectedCodes.map(codeName),
        ...counts,
        byMethod: recorder.byMethod,
        rssStartMib: round1(rssBefore),
        rssEndMib: round1(rssAfter),
        liveHeapEndMib: round1(heapAfter),
        rssAfterGcMib: round1(rssAfterGc),
        faultEvents,
        fake: { calls: minus(after.calls, before.calls), cancelled: minus(after.cancelled, before.cancelled), leftInFlight },
        driverLoopDelayMillis: delay,
        topErrors: recorder.topErrors(5),
        samples: recorder.samples,
        checks
      })
      const failed = checks.filter((c) => !c.ok).map((c) => `${c.name}: ${c.detail}`)
      log(
        `  ${counts.calls} calls, ${(counts.successRate * 100).toFixed(2)}% ok, p99 ${counts.latencyMillis.p99} ms, max ${counts.latencyMillis.max} ms, ` +
          `RSS ${rssBefore.toFixed(1)}→${rssAfter.toFixed(1)} MiB, live heap ${heapAfter.toFixed(1)} MiB, driver loop delay max ${delay.max} ms` +
          (failed.length > 0 ? `\n  FAILED: ${failed.join("; ")}` : "")
      )
    }

    // After the soak: healthy again, on the rotated version if there was a rotation.
    const finalChecks: Array<Check> = []
    let metrics: Record<string, number> = {}
    let rssEndMib = Number.NaN
    let peakMib = Number.NaN
    let heapEndMib = Number.NaN
    if (running.alive()) {
      const refreshed = await fake.nextKeyCheck(15_000)
      const final = await client.call("v2.Status", {})
      const expectedVersion = `${soakKeyUri}/cryptoKeyVersions/${1 + rotated}`
      finalChecks.push(
        check(
          "healthy after the soak, on the current key version",
          refreshed && final.code === status.OK && final.response?.["healthz"] === "ok" && final.response["keyId"] === expectedVersion,
          `Status ${codeName(final.code)} healthz ${JSON.stringify(final.response?.["healthz"])} key_id ${JSON.stringify(final.response?.["keyId"])} ` +
            `(expected ${expectedVersion}${refreshed ? "" : "; no key check seen"})`
        )
      )
      metrics = await fetchMetrics(running)
      peakMib = peakRssMib(running.pid)
      heapEndMib = await liveHeapMib()
      rssEndMib = rssNow()
    }
    client.close()
    client = undefined
    const crashed = !running.alive()
    const exit = await running.stop(15_000)
    finalChecks.push(check("no crash during the soak", !crashed, crashed ? `exited ${exit.code ?? exit.signal}` : "ran throughout"))
    finalChecks.push(check("clean exit on SIGTERM", !crashed && exit.code === 0, `exit ${exit.code ?? exit.signal}`))
    finalChecks.push(
      check(
        `live heap growth ≤ ${config.maxHeapGrowthMib} MiB after the first phase`,
        Number.isFinite(heapEndMib) && heapEndMib - heapWarmMib <= config.maxHeapGrowthMib,
        `live heap ${heapStartMib.toFixed(1)} MiB idle, ${heapWarmMib.toFixed(1)} after the first phase, ${heapEndMib.toFixed(1)} at the end`
      )
    )
    finalChecks.push(
      check(
        `VmRSS growth ≤ ${config.maxRssGrowthMib} MiB after the first phase`,
        Number.isFinite(rssEndMib) && rssEndMib - rssWarmMib <= config.maxRssGrowthMib,
        `VmRSS after a full GC ${rssStartMib.toFixed(1)} MiB idle, ${rssWarmMib.toFixed(1)} after the first phase, ${rssEndMib.toFixed(1)} at the end ` +
          `(peak ${peakMib.toFixed(1)})`
      )
    )

    // The leak scan: the whole log, and every error message a client got.
    const stderr = running.stderr()
    config.onLog?.({ stderr, stdout: running.stdout() })
    const logScan = scanLog(stderr)
    const messages = [...errorMessages.keys()].map((key) => key.slice(key.indexOf("\t") + 1)).join("\n")
    const hits = [
      ...leakScanner.scan("plugin log", stderr),
      ...leakScanner.scan("error messages", messages),
      ...scanSecrets("plugin log", stderr),
      ...scanSecrets("error messages", messages)
    ]
    finalChecks.push(
      check(
        "no plaintext or key material in the log or error messages",
        hits.length === 0,
        `${hits.length} hits; ${leakScanner.registered} plaintexts, ${stderr.length} log bytes, ${errorMessages.size} distinct error messages scanned`
      )
    )

    // Late and unexpected answers, next to the plugin's own measure of them.
    const uids = new Set(
      results.flatMap((r) => [...r.samples.late, ...r.samples.unexpected].flatMap((x) => (x.uid === undefined ? [] : [x.uid])))
    )
    const pluginMillis = pluginMillisOf(stderr, uids)
    const phaseResults = results.map((r) => ({ ...r, samples: withPluginMillis(r.samples, pluginMillis) }))

    const phaseChecks = results.flatMap((r) => r.checks.map((c) => ({ ...c, name: `${r.name}: ${c.name}` })))
    const missing = config.phases.length - results.length
    if (missing > 0) finalChecks.push(check("every phase ran", false, `${missing} phases skipped after the plugin exited`))
    const checks = [...phaseChecks, ...finalChecks]
    return {
      ok: checks.every((c) => c.ok),
      startedAt: startedAt.toISOString(),
      runtimeMillis: Math.round(performance.now() - runStarted),
      config: {
        concurrency: config.concurrency,
        minCallsPerPhase: config.minCallsPerPhase ?? 0,
        seed: config.seed,
        deadlineMillis: config.deadlineMillis,
        built: config.built,
        logLevel: config.logLevel,
        keyRefreshInterval: config.keyRefreshInterval,
        pluginArgs: config.pluginArgs,
        nodeArgs: config.nodeArgs,
        maxHeapGrowthMib: config.maxHeapGrowthMib,
        maxRssGrowthMib: config.maxRssGrowthMib
      },
      machine: { node: process.version, cpus: os.cpus().length, loadAverage: os.loadavg().map(round1) },
      plugin: {
        command: ["node", ...config.nodeArgs, path.relative(process.cwd(), config.entry ?? pluginEntry(config.built)), ...pluginArgs],
        rssStartMib: round1(rssStartMib),
        rssEndMib: round1(rssEndMib),
        peakRssMib: round1(peakMib),
        rssAfterFirstPhaseMib: round1(rssWarmMib),
        liveHeapMib: { idle: round1(heapStartMib), afterFirstPhase: round1(heapWarmMib), end: round1(heapEndMib) },
        exit: { code: exit.code, signal: exit.signal },
        crashed,
        logBytes: stderr.length,
        logLines: logScan.lines,
        logLevels: logScan.levels,
        nonJsonLines: logScan.nonJson.slice(0, 20),
        metrics
      },
      phases: phaseResults,
      total: countsOf(recorders, config.deadlineMillis),
      leaks: {
        plaintextsMade: plaintexts.count(),
        scannedLogBytes: stderr.length,
        errorMessagesScanned: errorMessages.size,
        hitCount: hits.length,
        hits: hits.slice(0, 20)
      },
      checks
    }
  } finally {
    client?.close()
    if (plugin?.alive()) {
      plugin.child.kill("SIGKILL")
      await plugin.exited
    }
    await fake.stop()
    removeDir()
    process.off("exit", removeDir)
  }
}

export type { Sample }
