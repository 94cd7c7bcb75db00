import * as v8 from "node:v8"
import * as Effect from "effect/Effect"
import { pluginRevision, pluginVersion } from "../version.ts"
import { type EventLoopWindow, eventLoopWindowSeconds, makeEventLoopWindows } from "./EventLoopWindows.ts"
import { gcBoundaries, makeGcDurations } from "./GcDurations.ts"
import { type ProcFigures, readProcFs } from "./ProcFs.ts"
import { type Family, type FamilyType, formatFamilies, histogramSamples, type Sample } from "./PrometheusText.ts"

// What an SRE expects from any Node process, under prom-client's default
// names and types so existing dashboards work, plus the plugin's build info.
// Read at scrape time from cheap sources (process, v8, /proc); the event-loop
// figures come from fixed windows and GC pauses from an observer, both
// started here and stopped with the scope. Nothing is done per KMS call.

interface Definition {
  readonly name: string
  readonly type: FamilyType
  readonly help: string
}

const window = `${eventLoopWindowSeconds} s`

const definitions = {
  buildInfo: {
    name: "kms_plugin_build_info",
    type: "gauge",
    help: "Always 1; labels: the plugin's version, its source revision and the Node.js version it runs on."
  },
  cpuUser: { name: "process_cpu_user_seconds_total", type: "counter", help: "Total user CPU time spent in seconds." },
  cpuSystem: { name: "process_cpu_system_seconds_total", type: "counter", help: "Total system CPU time spent in seconds." },
  cpu: { name: "process_cpu_seconds_total", type: "counter", help: "Total user and system CPU time spent in seconds." },
  startTime: { name: "process_start_time_seconds", type: "gauge", help: "Start time of the process since unix epoch in seconds." },
  resident: { name: "process_resident_memory_bytes", type: "gauge", help: "Resident memory size in bytes." },
  virtual: { name: "process_virtual_memory_bytes", type: "gauge", help: "Virtual memory size in bytes (Linux only)." },
  heap: { name: "process_heap_bytes", type: "gauge", help: "Process heap (data segment) size in bytes (Linux only)." },
  openFds: { name: "process_open_fds", type: "gauge", help: "Number of open file descriptors (Linux only)." },
  maxFds: { name: "process_max_fds", type: "gauge", help: "Maximum number of open file descriptors: the soft limit (Linux only)." },
  lag: {
    name: "nodejs_eventloop_lag_seconds",
    type: "gauge",
    help: `Lag of event loop in seconds: how long a setImmediate waited at the end of the last completed ${window} window.`
  },
  lagMin: {
    name: "nodejs_eventloop_lag_min_seconds",
    type: "gauge",
    help: `The minimum event loop delay over the last completed ${window} window.`
  },
  lagMax: {
    name: "nodejs_eventloop_lag_max_seconds",
    type: "gauge",
    help: `The maximum event loop delay over the last completed ${window} window.`
  },
  lagMean: {
    name: "nodejs_eventloop_lag_mean_seconds",
    type: "gauge",
    help: `The mean event loop delay over the last completed ${window} window.`
  },
  lagStddev: {
    name: "nodejs_eventloop_lag_stddev_seconds",
    type: "gauge",
    help: `The standard deviation of the event loop delay over the last completed ${window} window.`
  },
  lagP50: {
    name: "nodejs_eventloop_lag_p50_seconds",
    type: "gauge",
    help: `The 50th percentile of the event loop delay over the last completed ${window} window.`
  },
  lagP90: {
    name: "nodejs_eventloop_lag_p90_seconds",
    type: "gauge",
    help: `The 90th percentile of the event loop delay over the last completed ${window} window.`
  },
  lagP99: {
    name: "nodejs_eventloop_lag_p99_seconds",
    type: "gauge",
    help: `The 99th percentile of the event loop delay over the last completed ${window} window.`
  },
  handles: { name: "nodejs_active_handles", type: "gauge", help: "Number of active libuv handles grouped by handle type." },
  handlesTotal: { name: "nodejs_active_handles_total", type: "gauge", help: "Total number of active handles." },
  requests: { name: "nodejs_active_requests", type: "gauge", help: "Number of active libuv requests grouped by request type." },
  requestsTotal: { name: "nodejs_active_requests_total", type: "gauge", help: "Total number of active requests." },
  resources: {
    name: "nodejs_active_resources",
    type: "gauge",
    help: "Number of active resources that are currently keeping the event loop alive, grouped by async resource type."
  },
  resourcesTotal: { name: "nodejs_active_resources_total", type: "gauge", help: "Total number of active resources." },
  heapTotal: { name: "nodejs_heap_size_total_bytes", type: "gauge", help: "Process heap size from Node.js in bytes." },
  heapUsed: { name: "nodejs_heap_size_used_bytes", type: "gauge", help: "Process heap size used from Node.js in bytes." },
  external: { name: "nodejs_external_memory_bytes", type: "gauge", help: "Node.js external memory size in bytes." },
  spaceTotal: { name: "nodejs_heap_space_size_total_bytes", type: "gauge", help: "Process heap space size total from Node.js in bytes." },
  spaceUsed: { name: "nodejs_heap_space_size_used_bytes", type: "gauge", help: "Process heap space size used from Node.js in bytes." },
  spaceAvailable: {
    name: "nodejs_heap_space_size_available_bytes",
    type: "gauge",
    help: "Process heap space size available from Node.js in bytes."
  },
  nodeVersion: { name: "nodejs_version_info", type: "gauge", help: "Node.js version info." },
  gc: {
    name: "nodejs_gc_duration_seconds",
    type: "histogram",
    help: "Garbage collection duration by kind, one of major, minor, incremental or weakcb."
  }
} as const satisfies Record<string, Definition>

/** Every family this module exports, with its type (the README lists them). */
export const runtimeMetricDefinitions: ReadonlyArray<Definition> = Object.values(definitions)

const family = (definition: Definition, samples: ReadonlyArray<Sample>): Family => ({ ...definition, samples })
const single = (definition: Definition, value: number | undefined): Family => family(definition, value === undefined ? [] : [{ value }])

const countBy = (names: ReadonlyArray<string>, label: string): ReadonlyArray<Sample> => {
  const counts = new Map<string, number>()
  for (const name of names) counts.set(name, (counts.get(name) ?? 0) + 1)
  return [...counts].sort(([a], [b]) => a.localeCompare(b)).map(([name, value]) => ({ labels: { [label]: name }, value }))
}

/** An internal `process._getActive…()` list by constructor name, or undefined where Node no longer has it. */
const activeByType = (method: "_getActiveHandles" | "_getActiveRequests"): ReadonlyArray<string> | undefined => {
  const getter: unknown = Reflect.get(process, method)
  if (typeof getter !== "function") return undefined
  const list: unknown = Reflect.apply(getter, process, [])
  if (!Array.isArray(list)) return undefined
  return list.map((item: unknown) => {
    const maker: unknown = typeof item === "object" && item !== null ? Reflect.get(item, "constructor") : undefined
    const name: unknown = typeof maker === "function" ? maker.name : undefined
    return typeof name === "string" && name !== "" ? name : "unknown"
  })
}

const activeFamilies = (byType: Definition, total: Definition, names: ReadonlyArray<string> | undefined): ReadonlyArray<Family> =>
  names === undefined ? [] : [family(byType, countBy(names, "type")), single(total, names.length)]

const eventLoopFamilies = (w: EventLoopWindow): ReadonlyArray<Family> => [
  single(definitions.lag, w.lag),
  single(definitions.lagMin, w.min),
  single(definitions.lagMax, w.max),
  single(definitions.lagMean, w.mean),
  single(definitions.lagStddev, w.stddev),
  single(definitions.lagP50, w.p50),
  single(definitions.lagP90, w.p90),
  single(definitions.lagP99, w.p99)
]

const processFamilies = (proc: ProcFigures, rss: number): ReadonlyArray<Family> => {
  const cpu = process.cpuUsage()
  return [
    single(definitions.cpuUser, cpu.user / 1e6),
    single(definitions.cpuSystem, cpu.system / 1e6),
    single(definitions.cpu, (cpu.user + cpu.system) / 1e6),
    // The process's own start (not this module's), constant for its life.
    single(definitions.startTime, Math.round(performance.timeOrigin) / 1000),
    single(definitions.resident, proc.residentBytes ?? rss),
    single(definitions.virtual, proc.virtualBytes),
    single(definitions.heap, proc.dataBytes),
    single(definitions.openFds, proc.openFds),
    single(definitions.maxFds, proc.maxFds)
  ]
}

const heapFamilies = (memory: NodeJS.MemoryUsage): ReadonlyArray<Family> => {
  const spaces = v8.getHeapSpaceStatistics().map((space) => ({ ...space, space: space.space_name.replace(/_space$/, "") }))
  return [
    single(definitions.heapTotal, memory.heapTotal),
    single(definitions.heapUsed, memory.heapUsed),
    single(definitions.external, memory.external),
    family(
      definitions.spaceTotal,
      spaces.map((s) => ({ labels: { space: s.space }, value: s.space_size }))
    ),
    family(
      definitions.spaceUsed,
      spaces.map((s) => ({ labels: { space: s.space }, value: s.space_used_size }))
    ),
    family(
      definitions.spaceAvailable,
      spaces.map((s) => ({ labels: { space: s.space }, value: s.space_available_size }))
    )
  ]
}

const [nodeMajor = "", nodeMinor = "", nodePatch = ""] = process.version.slice(1).split(".")

const infoFamilies: ReadonlyArray<Family> = [
  family(definitions.buildInfo, [
    { labels: { version: pluginVersion, revision: pluginRevision, node_version: process.version }, value: 1 }
  ]),
  family(definitions.nodeVersion, [
    { labels: { version: process.version, major: nodeMajor, minor: nodeMinor, patch: nodePatch }, value: 1 }
  ])
]

/**
 * Starts the event-loop windows and the GC observer (stopped with the scope)
 * and returns the Prometheus text of every runtime metric, read when run.
 */
export const makeRuntimeMetrics = Effect.gen(function* () {
  const eventLoop = yield* makeEventLoopWindows()
  const gc = yield* makeGcDurations
  return Effect.sync(() => {
    const memory = process.memoryUsage()
    return formatFamilies([
      ...infoFamilies,
      ...processFamilies(readProcFs(), memory.rss),
      ...eventLoopFamilies(eventLoop()),
      ...activeFamilies(definitions.handles, definitions.handlesTotal, activeByType("_getActiveHandles")),
      ...activeFamilies(definitions.requests, definitions.requestsTotal, activeByType("_getActiveRequests")),
      ...activeFamilies(definitions.resources, definitions.resourcesTotal, process.getActiveResourcesInfo()),
      ...heapFamilies(memory),
      family(
        definitions.gc,
        gc().flatMap((h) => histogramSamples(gcBoundaries, h.counts, h.sum, { kind: h.kind }))
      )
    ])
  })
})
