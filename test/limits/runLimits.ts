import * as os from "node:os"
import * as path from "node:path"
import { makeStormCase, runStorm, type StormResult, startCloudPlugin, startFakeCloudKms } from "../bench/cloudScenarios.ts"
import { makeKmsClient } from "../bench/kmsClient.ts"
import type { LoadResult } from "../bench/loadResult.ts"
import { loadServices } from "../bench/protos.ts"
import { runLoadGenerator } from "../bench/runLoad.ts"
import type { OperationKind } from "../bench/scenarios.ts"
import { startServer } from "../bench/serverProcess.ts"
import { runSoak, type SoakResult } from "../soak/driver.ts"
import type { Phase } from "../soak/phases.ts"
import { peakResidentBytes } from "../support/procStats.ts"
import { projectRoot } from "../support/projectRoot.ts"
import { type Cgroup, type CgroupCounters, type CgroupLimits, createCgroup } from "./cgroup.ts"

// The plugin inside its static pod's limits: each scenario starts the built
// entrypoint in a fresh cgroup with the pod's memory and CPU limits, drives
// it from outside (the load generators and the fake Cloud KMS are not
// limited), and reads the cgroup's own counters once the plugin has stopped.
// The scenarios reuse the soak (test/soak) and the bench (test/bench):
//  - soak: the fault soak's phases against the fake Cloud KMS;
//  - storm: a cold-start storm of distinct Decrypts on a plugin that has just
//    started, in cloud mode, the fake Cloud KMS adding 20 ms to every call;
//  - bulk: closed-loop loads on the fake backend (Encrypts of 64 KiB at c=256, …).
// Each must end with no OOM kill, no wrong plaintext, every answer before its
// caller's deadline, and its peak memory reported.

export interface BulkLoad {
  readonly kind: Extract<OperationKind, "v2-encrypt" | "v2-roundtrip">
  readonly plaintextBytes: number
  readonly concurrency: number
  readonly durationMillis: number
  readonly warmupMillis: number
  /** Each call's deadline. */
  readonly deadlineMillis: number
}

export interface LimitsConfig {
  readonly limits: CgroupLimits
  /** The built entrypoint (dist/main.mjs, or a bundle built elsewhere). */
  readonly entry: string
  /** How the results name it (default: the entry, relative to the project). */
  readonly entryLabel?: string
  /** Node options the image runs the entrypoint with. */
  readonly nodeArgs: ReadonlyArray<string>
  /** The soak's and the storm's callers' deadline (the apiserver's is 3 s); bulk loads carry their own. */
  readonly deadlineMillis: number
  readonly soak?: {
    readonly phases: ReadonlyArray<{ readonly phase: Phase; readonly durationMillis: number }>
    readonly concurrency: number
    readonly seed: number
  }
  readonly storm?: { readonly decrypts: number; readonly concurrency: number }
  readonly bulk?: ReadonlyArray<BulkLoad>
  readonly log: (line: string) => void
}

export interface Check {
  readonly name: string
  readonly ok: boolean
  readonly detail: string
}

const mib = (bytes: number) => Math.round((bytes / 2 ** 20) * 10) / 10

export interface MemoryFigures {
  /** The cgroup's peak charge (anon + page cache + kernel), MiB. */
  readonly cgroupPeakMib: number
  /** The highest anonymous memory (heap, buffers) of the cgroup, sampled every 100 ms, MiB. */
  readonly anonPeakMib: number
  /** The plugin's own peak RSS (VmHWM), MiB; NaN if it was gone before it could be read. */
  readonly processPeakRssMib: number
  readonly limitMib: number
}

export interface ScenarioResult {
  readonly name: string
  readonly description: string
  readonly memory: MemoryFigures
  readonly cgroup: CgroupCounters
  readonly calls: number
  readonly wrongPlaintexts: number
  readonly lateCalls: number
  /** The slowest answer, ms. */
  readonly slowestMillis: number
  readonly checks: ReadonlyArray<Check>
  readonly details: SoakSummary | StormDetails | ReadonlyArray<BulkDetails>
}

type SoakSummary = Pick<SoakResult, "total" | "plugin" | "checks"> & {
  readonly phases: ReadonlyArray<{
    readonly name: string
    readonly calls: number
    readonly successRate: number
    readonly lateCalls: number
    readonly rssEndMib: number
    /** Driver's event loop delay: a late answer next to a large one says the machine, not the plugin, was slow. */
    readonly driverLoopDelayMaxMillis: number
    readonly late: SoakResult["phases"][number]["samples"]["late"]
  }>
}
type StormDetails = StormResult & { readonly decrypts: number; readonly concurrency: number }
type BulkDetails = BulkLoad &
  Pick<
    LoadResult,
    "ops" | "opsPerSecond" | "p50Millis" | "p99Millis" | "errors" | "errorKinds" | "lateCalls" | "slowestMillis" | "serverPeakRssMib"
  >

export interface LimitsResult {
  readonly ok: boolean
  readonly startedAt: string
  readonly runtimeMillis: number
  readonly limits: { readonly memoryMib: number; readonly cpus: number; readonly cgroupVersion: 1 | 2 | undefined }
  readonly plugin: { readonly command: ReadonlyArray<string> }
  readonly deadlineMillis: number
  readonly machine: { readonly node: string; readonly cpus: number; readonly loadAverage: ReadonlyArray<number> }
  readonly scenarios: ReadonlyArray<ScenarioResult>
  readonly checks: ReadonlyArray<Check>
}

const check = (name: string, ok: boolean, detail: string): Check => ({ name, ok, detail })

/** The plugin's VmHWM in KiB; NaN if it is gone. */
const peakKib = (pid: number): number => {
  try {
    return peakResidentBytes(pid) / 1024
  } catch {
    return Number.NaN
  }
}

const memoryChecks = (counters: CgroupCounters, memory: MemoryFigures): ReadonlyArray<Check> => [
  check("no OOM kill (the cgroup's oom_kill counter)", counters.oomKills === 0, `${counters.oomKills} OOM kills`),
  check(
    "peak memory read from the cgroup",
    Number.isFinite(memory.cgroupPeakMib),
    `cgroup peak ${memory.cgroupPeakMib} MiB of ${memory.limitMib} (anonymous ${memory.anonPeakMib}), plugin VmHWM ${memory.processPeakRssMib} MiB, ` +
      `${counters.limitHits} charges over the limit, CPU throttled in ${counters.cpuThrottledPeriods} of ${counters.cpuPeriods} periods`
  )
]

const answerChecks = (wrong: number, late: number, errors: number, deadlineMillis: number): ReadonlyArray<Check> => [
  check("no wrong plaintext", wrong === 0, `${wrong} wrong plaintexts`),
  check(`every answer before the caller's ${deadlineMillis} ms deadline`, late === 0, `${late} late or DEADLINE_EXCEEDED`),
  check("no failed call", errors === 0, `${errors} failed calls`)
]

/** Runs `use` with a fresh cgroup, which it removes after; the counters are read once `use` has stopped the plugin. */
const inCgroup = async <A>(
  config: LimitsConfig,
  use: (cgroup: Cgroup, pluginPeakRssMib: (pid: number) => void) => Promise<A>
): Promise<{ readonly value: A; readonly counters: CgroupCounters; readonly memory: MemoryFigures }> => {
  const cgroup = createCgroup(config.limits)
  let processPeakKib = Number.NaN
  let anonPeakBytes = 0
  const sampler = setInterval(() => {
    try {
      anonPeakBytes = Math.max(anonPeakBytes, cgroup.counters().anonBytes)
    } catch {
      // Read again at the next tick.
    }
  }, 100)
  try {
    const value = await use(cgroup, (pid) => {
      processPeakKib = peakKib(pid)
    })
    const counters = cgroup.counters()
    return {
      value,
      counters,
      memory: {
        cgroupPeakMib: mib(counters.memoryPeakBytes),
        anonPeakMib: mib(anonPeakBytes),
        processPeakRssMib: Math.round(processPeakKib / 102.4) / 10,
        limitMib: mib(counters.memoryLimitBytes)
      }
    }
  } finally {
    clearInterval(sampler)
    await cgroup.remove()
  }
}

const runSoakScenario = async (config: LimitsConfig, soak: NonNullable<LimitsConfig["soak"]>): Promise<ScenarioResult> => {
  const {
    value: result,
    counters,
    memory
  } = await inCgroup(config, (cgroup) =>
    runSoak({
      phases: soak.phases,
      concurrency: soak.concurrency,
      seed: soak.seed,
      deadlineMillis: config.deadlineMillis,
      built: true,
      entry: config.entry,
      wrap: cgroup.wrap,
      logLevel: "debug",
      keyRefreshInterval: "1s",
      pluginArgs: [],
      nodeArgs: config.nodeArgs,
      maxHeapGrowthMib: 16,
      maxRssGrowthMib: 48,
      log: (line) => config.log(`soak: ${line}`)
    })
  )
  // The soak reads VmHWM itself, just before it stops the plugin.
  const figures = { ...memory, processPeakRssMib: result.plugin.peakRssMib }
  return {
    name: "soak",
    description:
      `the fault soak's ${soak.phases.length} phases (${soak.phases.map((p) => p.phase.name).join(", ")}), ` +
      `${soak.concurrency} workers on both APIs, CloudKms backend against the fake Cloud KMS with injected faults`,
    memory: figures,
    cgroup: counters,
    calls: result.total.calls,
    wrongPlaintexts: result.total.wrongPlaintexts,
    lateCalls: result.total.lateCalls,
    slowestMillis: result.total.latencyMillis.max,
    checks: [...memoryChecks(counters, figures), ...result.checks.map((c) => ({ ...c, name: `soak: ${c.name}` }))],
    details: {
      total: result.total,
      // Its command names temp paths (socket, bundle): the limits result has the command.
      plugin: { ...result.plugin, command: [] },
      checks: result.checks.filter((c) => !c.ok),
      phases: result.phases.map((p) => ({
        name: p.name,
        calls: p.calls,
        successRate: p.successRate,
        lateCalls: p.lateCalls,
        rssEndMib: p.rssEndMib,
        driverLoopDelayMaxMillis: p.driverLoopDelayMillis.max,
        late: p.samples.late
      }))
    }
  }
}

const pluginArgv = (config: LimitsConfig) => [process.execPath, ...config.nodeArgs, config.entry]

const runStormScenario = async (config: LimitsConfig, storm: NonNullable<LimitsConfig["storm"]>): Promise<ScenarioResult> => {
  const services = loadServices()
  const fake = await startFakeCloudKms()
  try {
    // The ciphertexts are made by a plugin outside the limits; only the storm's plugin is limited.
    config.log(`storm: making ${storm.decrypts} ciphertexts`)
    const stormCase = await makeStormCase(pluginArgv(config), fake.address, services, storm.decrypts)
    const {
      value: result,
      counters,
      memory
    } = await inCgroup(config, async (cgroup, readPeak) => {
      const plugin = await startCloudPlugin(cgroup.wrap(pluginArgv(config)), fake.address, services)
      try {
        const client = makeKmsClient(plugin.target, services, { channels: 4, deadlineMillis: config.deadlineMillis })
        const outcome = await runStorm(client, stormCase, storm.concurrency, config.deadlineMillis)
        client.close()
        const stillRunning = cgroup.pids().includes(plugin.pid)
        readPeak(plugin.pid)
        return { outcome, stillRunning }
      } finally {
        await plugin.stop()
      }
    })
    const { outcome } = result
    config.log(
      `storm: ${storm.decrypts} distinct v1beta1 Decrypts at c=${storm.concurrency} in ${outcome.wallMillis.toFixed(0)} ms, ` +
        `slowest ${outcome.slowestMillis.toFixed(0)} ms, ${outcome.errors} errors; cgroup peak ${memory.cgroupPeakMib} MiB`
    )
    return {
      name: "storm",
      description:
        `cold-start storm: ${storm.decrypts} distinct v1beta1 Decrypts at c=${storm.concurrency} on a plugin that has just started, ` +
        "CloudKms backend against the fake Cloud KMS (20 ms per call)",
      memory,
      cgroup: counters,
      calls: storm.decrypts,
      wrongPlaintexts: outcome.wrongPlaintexts,
      lateCalls: outcome.lateCalls,
      slowestMillis: Math.round(outcome.slowestMillis * 10) / 10,
      checks: [
        ...memoryChecks(counters, memory),
        check("plugin still running at the end", result.stillRunning, result.stillRunning ? "running" : "gone"),
        ...answerChecks(outcome.wrongPlaintexts, outcome.lateCalls, outcome.errors, config.deadlineMillis)
      ],
      details: { ...outcome, decrypts: storm.decrypts, concurrency: storm.concurrency }
    }
  } finally {
    fake.stop()
  }
}

const loadLabel = (load: BulkLoad) =>
  `${load.kind === "v2-encrypt" ? "Encrypt" : "Encrypt+Decrypt"} of ${load.plaintextBytes >= 1024 ? `${load.plaintextBytes / 1024} KiB` : `${load.plaintextBytes} B`} at c=${load.concurrency}`

const runBulkScenario = async (config: LimitsConfig, loads: ReadonlyArray<BulkLoad>): Promise<ScenarioResult> => {
  const services = loadServices()
  const {
    value: result,
    counters,
    memory
  } = await inCgroup(config, async (cgroup, readPeak) => {
    const plugin = await startServer(
      {
        command: cgroup.wrap(pluginArgv(config)),
        argsFor: (socket) => ["--kms-backend", "fake", "--path-to-unix-socket", socket, "--healthz-port", "0", "--log-level", "warn"]
      },
      services,
      { cwd: projectRoot, readyAttempts: 1000, retryMillis: 10 }
    )
    try {
      const runs: Array<BulkDetails> = []
      for (const load of loads) {
        const outcome = await runLoadGenerator(plugin, { ...load, channels: 4, sampleRss: true })
        config.log(
          `bulk: ${loadLabel(load)}: ${outcome.opsPerSecond.toFixed(0)} ops/s, p99 ${outcome.p99Millis.toFixed(1)} ms, slowest ${outcome.slowestMillis.toFixed(0)} ms, ` +
            `${outcome.errors} errors, plugin RSS peak ${outcome.serverPeakRssMib.toFixed(1)} MiB`
        )
        runs.push({
          ...load,
          ops: outcome.ops,
          opsPerSecond: Math.round(outcome.opsPerSecond),
          p50Millis: outcome.p50Millis,
          p99Millis: outcome.p99Millis,
          errors: outcome.errors,
          errorKinds: outcome.errorKinds,
          lateCalls: outcome.lateCalls,
          slowestMillis: outcome.slowestMillis,
          serverPeakRssMib: outcome.serverPeakRssMib
        })
      }
      const stillRunning = cgroup.pids().includes(plugin.pid)
      readPeak(plugin.pid)
      return { runs, stillRunning }
    } finally {
      await plugin.stop()
    }
  })
  const sum = (pick: (r: BulkDetails) => number) => result.runs.reduce((total, r) => total + pick(r), 0)
  const errors = sum((r) => r.errors)
  const late = sum((r) => r.lateCalls)
  // The load generator compares every decrypted plaintext and counts a wrong one as an error.
  const wrong = sum((r) =>
    Object.entries(r.errorKinds)
      .filter(([message]) => /different plaintext/.test(message))
      .reduce((n, [, count]) => n + count, 0)
  )
  return {
    name: "bulk",
    description: `fake backend, closed loop: ${loads.map(loadLabel).join("; ")}`,
    memory,
    cgroup: counters,
    calls: sum((r) => r.ops),
    wrongPlaintexts: wrong,
    lateCalls: late,
    slowestMillis: Math.round(Math.max(...result.runs.map((r) => r.slowestMillis)) * 10) / 10,
    checks: [
      ...memoryChecks(counters, memory),
      check("plugin still running at the end", result.stillRunning, result.stillRunning ? "running" : "gone"),
      check(
        "calls answered in every load",
        result.runs.every((r) => r.ops > 0),
        result.runs.map((r) => `${r.ops}`).join(", ")
      ),
      ...answerChecks(wrong, late, errors, Math.max(...loads.map((l) => l.deadlineMillis)))
    ],
    details: result.runs
  }
}

export const runLimits = async (config: LimitsConfig): Promise<LimitsResult> => {
  const startedAt = new Date()
  const started = performance.now()
  const scenarios: Array<ScenarioResult> = []
  let cgroupVersion: 1 | 2 | undefined
  const note = (result: ScenarioResult) => {
    cgroupVersion = result.cgroup.version
    scenarios.push(result)
    const failed = result.checks.filter((c) => !c.ok)
    config.log(
      `${result.name}: ${failed.length === 0 ? "ok" : "FAILED"}: cgroup peak ${result.memory.cgroupPeakMib} MiB of ${result.memory.limitMib}, ` +
        `VmHWM ${result.memory.processPeakRssMib} MiB, ${result.cgroup.oomKills} OOM kills, ${result.calls} calls, slowest ${result.slowestMillis} ms` +
        (failed.length > 0 ? `\n  ${failed.map((c) => `${c.name}: ${c.detail}`).join("\n  ")}` : "")
    )
  }
  if (config.soak !== undefined) note(await runSoakScenario(config, config.soak))
  if (config.storm !== undefined) note(await runStormScenario(config, config.storm))
  if (config.bulk !== undefined && config.bulk.length > 0) note(await runBulkScenario(config, config.bulk))
  const checks = scenarios.flatMap((s) => s.checks.map((c) => ({ ...c, name: `${s.name}: ${c.name}` })))
  return {
    ok: scenarios.length > 0 && checks.every((c) => c.ok),
    startedAt: startedAt.toISOString(),
    runtimeMillis: Math.round(performance.now() - started),
    limits: { memoryMib: mib(config.limits.memoryBytes), cpus: config.limits.cpus, cgroupVersion },
    plugin: { command: ["node", ...config.nodeArgs, config.entryLabel ?? path.relative(projectRoot, config.entry)] },
    deadlineMillis: config.deadlineMillis,
    machine: { node: process.version, cpus: os.cpus().length, loadAverage: os.loadavg().map((n) => Math.round(n * 100) / 100) },
    scenarios,
    checks
  }
}
