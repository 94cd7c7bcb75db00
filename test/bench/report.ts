import type { LoadResult } from "./loadResult.ts"
import type { Scenario } from "./scenarios.ts"
import { type Spread, spreadOf } from "./stats.ts"

// Turns the raw runs into medians, spreads and plugin/floor ratios, as JSON
// and as a markdown table.

export type ServerName = "plugin" | "floor"

export interface ServerRun {
  readonly server: ServerName
  readonly set: number
  readonly startMillis: number
  readonly idleRssMib: number
  /** Highest VmRSS sampled during the c=64 scenarios (NaN if none ran). */
  readonly peakRssUnderLoadMib: number
  /** VmHWM at the end of the set: the peak over the process's whole life. */
  readonly lifetimePeakRssMib: number
  readonly scenarios: Readonly<Record<string, LoadResult>>
}

interface ScenarioSummary {
  readonly opsPerSecond: Spread
  readonly p50Millis: Spread
  readonly p99Millis: Spread
  readonly cpuMicrosPerOp: Spread
  readonly clientCpuMicrosPerOp: Spread
  readonly errors: number
  readonly zeroOpRuns: number
  readonly errorKinds: Readonly<Record<string, number>>
}

interface ServerSummary {
  readonly startMillis: Spread
  readonly idleRssMib: Spread
  readonly peakRssUnderLoadMib: Spread
  readonly scenarios: Readonly<Record<string, ScenarioSummary>>
}

/** Peak RSS under one scenario, plugin against floor, paired by set (same set, fresh processes, one after the other). */
export interface PeakRssPerSet {
  readonly scenarioId: string
  readonly plugin: Spread
  readonly floor: Spread
  /** plugin / floor within each set, in set order. */
  readonly ratios: ReadonlyArray<number>
  readonly ratio: Spread
}

/** The scenario whose peak RSS is compared set by set. */
export const peakRssScenarioId = "v2-encrypt-c64"

export interface Summary {
  readonly plugin: ServerSummary
  readonly floor: ServerSummary
  /** Undefined when that scenario did not run. */
  readonly peakRssPerSet: PeakRssPerSet | undefined
  /** plugin median / floor median, per scenario and per server metric. */
  readonly ratios: {
    readonly scenarios: Readonly<Record<string, { throughput: number; p50: number; p99: number; cpuPerOp: number }>>
    readonly startMillis: number
    readonly idleRss: number
    readonly peakRss: number
  }
  /** Scenario runs with errors or no ops; the bench fails when non-empty. */
  readonly problems: ReadonlyArray<string>
}

const summarizeServer = (runs: ReadonlyArray<ServerRun>, chosen: ReadonlyArray<Scenario>): ServerSummary => {
  const scenarios: Record<string, ScenarioSummary> = {}
  for (const scenario of chosen) {
    const results = runs.flatMap((run) => run.scenarios[scenario.id] ?? [])
    const errorKinds: Record<string, number> = {}
    for (const result of results) {
      for (const [message, count] of Object.entries(result.errorKinds)) errorKinds[message] = (errorKinds[message] ?? 0) + count
    }
    scenarios[scenario.id] = {
      opsPerSecond: spreadOf(results.map((r) => r.opsPerSecond)),
      p50Millis: spreadOf(results.map((r) => r.p50Millis)),
      p99Millis: spreadOf(results.map((r) => r.p99Millis)),
      cpuMicrosPerOp: spreadOf(results.map((r) => r.serverCpuMicrosPerOp)),
      clientCpuMicrosPerOp: spreadOf(results.map((r) => r.clientCpuMicrosPerOp)),
      errors: results.reduce((sum, r) => sum + r.errors, 0),
      zeroOpRuns: results.filter((r) => r.ops === 0).length,
      errorKinds
    }
  }
  return {
    startMillis: spreadOf(runs.map((r) => r.startMillis)),
    idleRssMib: spreadOf(runs.map((r) => r.idleRssMib)),
    peakRssUnderLoadMib: spreadOf(runs.map((r) => r.peakRssUnderLoadMib)),
    scenarios
  }
}

const ratio = (plugin: Spread, floor: Spread) => plugin.median / floor.median

const peakRssPerSetOf = (runs: ReadonlyArray<ServerRun>, chosen: ReadonlyArray<Scenario>): PeakRssPerSet | undefined => {
  if (!chosen.some((s) => s.id === peakRssScenarioId)) return undefined
  const peakOf = (run: ServerRun | undefined) => run?.scenarios[peakRssScenarioId]?.serverPeakRssMib ?? Number.NaN
  const sets = [...new Set(runs.map((r) => r.set))].sort((a, b) => a - b)
  const pairs = sets.map(
    (set) =>
      [
        peakOf(runs.find((r) => r.set === set && r.server === "plugin")),
        peakOf(runs.find((r) => r.set === set && r.server === "floor"))
      ] as const
  )
  const ratios = pairs.map(([plugin, floor]) => plugin / floor)
  return {
    scenarioId: peakRssScenarioId,
    plugin: spreadOf(pairs.map(([plugin]) => plugin)),
    floor: spreadOf(pairs.map(([, floor]) => floor)),
    ratios,
    ratio: spreadOf(ratios)
  }
}

export const summarize = (runs: ReadonlyArray<ServerRun>, chosen: ReadonlyArray<Scenario>): Summary => {
  const plugin = summarizeServer(
    runs.filter((r) => r.server === "plugin"),
    chosen
  )
  const floor = summarizeServer(
    runs.filter((r) => r.server === "floor"),
    chosen
  )
  const scenarioRatios: Summary["ratios"]["scenarios"] = Object.fromEntries(
    chosen.flatMap((scenario) => {
      const p = plugin.scenarios[scenario.id]
      const f = floor.scenarios[scenario.id]
      if (p === undefined || f === undefined) return []
      return [
        [
          scenario.id,
          {
            throughput: ratio(p.opsPerSecond, f.opsPerSecond),
            p50: ratio(p.p50Millis, f.p50Millis),
            p99: ratio(p.p99Millis, f.p99Millis),
            cpuPerOp: ratio(p.cpuMicrosPerOp, f.cpuMicrosPerOp)
          }
        ]
      ]
    })
  )
  const problems: Array<string> = []
  for (const [name, summary] of [
    ["plugin", plugin],
    ["floor", floor]
  ] as const) {
    for (const scenario of chosen) {
      const s = summary.scenarios[scenario.id]
      if (s === undefined) continue
      if (s.errors > 0) {
        const kinds = Object.entries(s.errorKinds)
          .map(([message, count]) => `${count}x ${message}`)
          .join("; ")
        problems.push(`${name} ${scenario.label}: ${s.errors} error(s): ${kinds}`)
      }
      if (s.zeroOpRuns > 0) problems.push(`${name} ${scenario.label}: ${s.zeroOpRuns} run(s) with zero ops`)
    }
  }
  return {
    plugin,
    floor,
    peakRssPerSet: peakRssPerSetOf(runs, chosen),
    ratios: {
      scenarios: scenarioRatios,
      startMillis: ratio(plugin.startMillis, floor.startMillis),
      idleRss: ratio(plugin.idleRssMib, floor.idleRssMib),
      peakRss: ratio(plugin.peakRssUnderLoadMib, floor.peakRssUnderLoadMib)
    },
    problems
  }
}

// Three significant digits at most, no exponent: readable across 0.05 ms to 50k ops/s.
export const num = (value: number): string => {
  if (!Number.isFinite(value)) return "–"
  if (Math.abs(value) >= 100) return Math.round(value).toString()
  return Number(value.toPrecision(3)).toString()
}

/** A median, with its range when there was more than one set. */
export const cell = (spread: Spread, sets: number): string =>
  sets > 1 ? `${num(spread.median)} (${num(spread.min)}–${num(spread.max)})` : num(spread.median)

const times = (value: number): string => (Number.isFinite(value) ? `${value.toFixed(2)}×` : "–")

/** `floorLabel`: what sat in the floor's seat ("floor", or "baseline" when it was another plugin command). */
export const markdown = (summary: Summary, chosen: ReadonlyArray<Scenario>, sets: number, floorLabel = "floor"): string => {
  const lines: Array<string> = []
  const spreadNote = sets > 1 ? `median (min–max) of ${sets} sets` : "1 set"
  lines.push(`### Per scenario (${spreadNote})`, "")
  // Client CPU (median only) shows how much of the 2 cores the load itself took.
  lines.push("| scenario | server | ops/s | p50 ms | p99 ms | server CPU µs/op | client CPU µs/op | errors |")
  lines.push("|---|---|---:|---:|---:|---:|---:|---:|")
  for (const scenario of chosen) {
    for (const name of ["plugin", "floor"] as const) {
      const s = summary[name].scenarios[scenario.id]
      if (s === undefined) continue
      lines.push(
        `| ${scenario.label} | ${name === "floor" ? floorLabel : name} | ${cell(s.opsPerSecond, sets)} | ${cell(s.p50Millis, sets)} | ${cell(s.p99Millis, sets)} | ${cell(s.cpuMicrosPerOp, sets)} | ${num(s.clientCpuMicrosPerOp.median)} | ${s.errors} |`
      )
    }
  }
  lines.push("", `### Plugin / ${floorLabel} (ratio of medians)`, "")
  lines.push("| scenario | throughput | p50 | p99 | CPU/op |")
  lines.push("|---|---:|---:|---:|---:|")
  for (const scenario of chosen) {
    const r = summary.ratios.scenarios[scenario.id]
    if (r === undefined) continue
    lines.push(`| ${scenario.label} | ${times(r.throughput)} | ${times(r.p50)} | ${times(r.p99)} | ${times(r.cpuPerOp)} |`)
  }
  lines.push("", `### Per server process (${spreadNote})`, "")
  lines.push(`| metric | plugin | ${floorLabel} | plugin/${floorLabel} |`)
  lines.push("|---|---:|---:|---:|")
  lines.push(
    `| spawn → first Status, ms | ${cell(summary.plugin.startMillis, sets)} | ${cell(summary.floor.startMillis, sets)} | ${times(summary.ratios.startMillis)} |`
  )
  lines.push(
    `| idle RSS, MiB | ${cell(summary.plugin.idleRssMib, sets)} | ${cell(summary.floor.idleRssMib, sets)} | ${times(summary.ratios.idleRss)} |`
  )
  lines.push(
    `| peak RSS under c=64, MiB | ${cell(summary.plugin.peakRssUnderLoadMib, sets)} | ${cell(summary.floor.peakRssUnderLoadMib, sets)} | ${times(summary.ratios.peakRss)} |`
  )
  const perSet = summary.peakRssPerSet
  if (perSet !== undefined) {
    const label = chosen.find((s) => s.id === perSet.scenarioId)?.label ?? perSet.scenarioId
    lines.push(
      `| peak RSS under ${label}, MiB; ratio per set | ${cell(perSet.plugin, sets)} | ${cell(perSet.floor, sets)} | ` +
        `${sets > 1 ? `${times(perSet.ratio.median)} (${times(perSet.ratio.min)}–${times(perSet.ratio.max)})` : times(perSet.ratio.median)} |`
    )
  }
  if (summary.problems.length > 0) {
    lines.push("", "### Problems", "", ...summary.problems.map((p) => `- ${p}`))
  }
  return `${lines.join("\n")}\n`
}
