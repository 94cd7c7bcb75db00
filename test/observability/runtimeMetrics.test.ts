import * as fs from "node:fs"
import * as path from "node:path"
import * as v8 from "node:v8"
import { runInNewContext } from "node:vm"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as TestClock from "effect/testing/TestClock"
import * as fc from "fast-check"
import { type EventLoopWindow, emptyWindow, makeEventLoopWindows } from "../../src/observability/EventLoopWindows.ts"
import { gcBoundaries, makeGcDurations } from "../../src/observability/GcDurations.ts"
import { parseMaxOpenFiles, parseStatus, readProcFs } from "../../src/observability/ProcFs.ts"
import { formatFamily, histogramSamples } from "../../src/observability/PrometheusText.ts"
import { makeRuntimeMetrics, runtimeMetricDefinitions } from "../../src/observability/RuntimeMetrics.ts"
import { pluginRevision, pluginVersion } from "../../src/version.ts"
import { runToEnd } from "../support/childProcess.ts"
import { httpGet, sample } from "../support/http.ts"
import { InProcessPlugin } from "../support/InProcessPlugin.ts"
import { tempDir } from "../support/tempDir.ts"

// The runtime metrics: prom-client's names and types, read at scrape time,
// event-loop figures from fixed windows that a scrape never resets.

/** `# TYPE` lines of a Prometheus text, name → type, and how often each name was declared. */
const declaredTypes = (text: string) => {
  const types = new Map<string, string>()
  const counts = new Map<string, number>()
  for (const match of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
    types.set(match[1] ?? "", match[2] ?? "")
    counts.set(match[1] ?? "", (counts.get(match[1] ?? "") ?? 0) + 1)
  }
  return { types, counts }
}

/** The next timers phase of the event loop: any overdue timer (the delay sampler's too) has fired by then. */
const nextTimersPhase = Effect.promise(() => new Promise<void>((resolve) => setTimeout(resolve, 0)))

const busyFor = (millis: number) =>
  Effect.sync(() => {
    const end = performance.now() + millis
    while (performance.now() < end) {
      // Blocks the event loop on purpose.
    }
  })

/** Waits, one event-loop turn at a time, until the reader shows another window than `previous`. */
const nextWindow = (read: () => EventLoopWindow, previous: EventLoopWindow) =>
  Effect.gen(function* () {
    for (let turn = 0; turn < 1000 && read() === previous; turn++) yield* nextTimersPhase
    assert.notStrictEqual(read(), previous, "the window was not published")
    return read()
  })

describe("runtime metrics", () => {
  it.effect("event loop: figures change only when a window closes on the plugin's timer, never on a read", () =>
    Effect.gen(function* () {
      const read = yield* makeEventLoopWindows(10)
      assert.deepStrictEqual(read(), emptyWindow, "all 0 until the first window completes")
      // The sampler's first tick only sets its baseline: let it tick (it is
      // overdue after 20 ms blocked), then block the loop for 80 ms.
      yield* busyFor(20)
      yield* nextTimersPhase
      yield* busyFor(80)
      yield* nextTimersPhase
      // Reading (scraping) any number of times changes nothing.
      assert.deepStrictEqual([read(), read()], [emptyWindow, emptyWindow])
      yield* TestClock.adjust("10 seconds")
      const blocked = yield* nextWindow(read, emptyWindow)
      assert.isAtLeast(blocked.max, 0.08, "the 80 ms block is in the window")
      assert.isAtLeast(blocked.p99, blocked.p50)
      assert.isAtLeast(blocked.max, blocked.p99)
      assert.isAtLeast(blocked.p50, blocked.min)
      // Two scrapers at different moments of the same window see the same figures.
      yield* busyFor(30)
      yield* nextTimersPhase
      assert.strictEqual(read(), blocked)
      assert.deepStrictEqual(read(), blocked)
      yield* TestClock.adjust("10 seconds")
      yield* nextWindow(read, blocked)
    }).pipe(Effect.scoped)
  )

  it.live("GC: a forced collection is counted as major in nodejs_gc_duration_seconds; every kind is present from start", () =>
    Effect.gen(function* () {
      const read = yield* makeGcDurations
      assert.deepStrictEqual(
        read().map((h) => [h.kind, h.counts.reduce((a, b) => a + b, 0)]),
        [
          ["major", 0],
          ["minor", 0],
          ["incremental", 0],
          ["weakcb", 0]
        ]
      )
      v8.setFlagsFromString("--expose-gc")
      const gc: unknown = runInNewContext("gc")
      if (typeof gc !== "function") return assert.fail("gc is not exposed")
      gc()
      const majors = () =>
        read()
          .find((h) => h.kind === "major")
          ?.counts.reduce((a, b) => a + b, 0) ?? 0
      for (let turn = 0; turn < 1000 && majors() === 0; turn++) yield* nextTimersPhase
      assert.isAtLeast(majors(), 1)
      const major = read().find((h) => h.kind === "major")
      assert.strictEqual(major?.counts.length, gcBoundaries.length + 1)
      assert.isAbove(major?.sum ?? 0, 0)
    }).pipe(Effect.scoped)
  )

  it("/proc parsing: VmRSS/VmSize/VmData in bytes; the soft open-files limit, none when unlimited", () => {
    const status = "Name:\tnode\nVmPeak:\t  999 kB\nVmSize:\t 2048 kB\nVmData:\t  512 kB\nVmRSS:\t  1024 kB\n"
    assert.deepStrictEqual(parseStatus(status), { residentBytes: 1024 * 1024, virtualBytes: 2048 * 1024, dataBytes: 512 * 1024 })
    assert.deepStrictEqual(parseStatus("Name:\tnode\n"), {})
    const limits = (soft: string) =>
      `Limit                     Soft Limit           Hard Limit           Units     \nMax processes             63414                63414                processes \nMax open files            ${soft.padEnd(20)} 1048576              files     \n`
    assert.strictEqual(parseMaxOpenFiles(limits("1024")), 1024)
    assert.isUndefined(parseMaxOpenFiles(limits("unlimited")))
    assert.isUndefined(parseMaxOpenFiles("Max processes 1 1 processes\n"))
  })

  it.live("/proc reading (Linux): one more open file is one more fd; the limit is the shell's `ulimit -n`", () =>
    Effect.gen(function* () {
      if (process.platform !== "linux") return assert.deepStrictEqual(readProcFs(), {})
      const file = path.join(yield* tempDir, "f")
      // Nothing between these reads may yield to the event loop (another callback could open a file).
      const before = readProcFs()
      const fd = fs.openSync(file, "w")
      const during = readProcFs()
      fs.closeSync(fd)
      assert.strictEqual(during.openFds, (before.openFds ?? Number.NaN) + 1)
      assert.strictEqual(readProcFs().openFds, before.openFds)
      const ulimit = yield* Effect.promise(() => runToEnd("sh", ["-c", "ulimit -n"], { cwd: process.cwd() }))
      assert.strictEqual(String(before.maxFds), ulimit.stdout.trim())
      assert.isAbove(before.residentBytes ?? 0, 10_000_000)
      assert.isAbove(before.virtualBytes ?? 0, before.residentBytes ?? 0)
    })
  )

  it("text format: label values escaped; histogram buckets cumulative with _count = +Inf bucket (P)", () => {
    assert.strictEqual(
      formatFamily({ name: "x", help: "a\\b\nc", type: "gauge", samples: [{ labels: { v: 'q"\\\n' }, value: 1 }] }),
      '# HELP x a\\\\b\\nc\n# TYPE x gauge\nx{v="q\\"\\\\\\n"} 1\n'
    )
    assert.strictEqual(formatFamily({ name: "x", help: "h", type: "gauge", samples: [] }), "")
    fc.assert(
      fc.property(fc.array(fc.nat(1000), { minLength: gcBoundaries.length + 1, maxLength: gcBoundaries.length + 1 }), (counts) => {
        const samples = histogramSamples(gcBoundaries, counts, 1.5, { kind: "major" })
        const buckets = samples.filter((s) => s.suffix === "_bucket").map((s) => s.value)
        assert.deepStrictEqual(
          buckets.map((_, i) => counts.slice(0, i + 1).reduce((a, b) => a + b, 0)),
          buckets
        )
        assert.strictEqual(samples.find((s) => s.suffix === "_count")?.value, buckets[buckets.length - 1])
        assert.deepStrictEqual(
          samples.filter((s) => s.suffix === "_bucket").map((s) => s.labels?.["le"]),
          [...gcBoundaries.map(String), "+Inf"]
        )
      })
    )
  })

  it.effect("every runtime family is exported with its type, once; build info names this build", () =>
    Effect.gen(function* () {
      const text = yield* yield* makeRuntimeMetrics
      const { counts, types } = declaredTypes(text)
      const linuxOnly = new Set(["process_virtual_memory_bytes", "process_heap_bytes", "process_open_fds", "process_max_fds"])
      for (const definition of runtimeMetricDefinitions) {
        if (process.platform !== "linux" && linuxOnly.has(definition.name)) continue
        // By type: no series while there is none of any type.
        if (definition.name === "nodejs_active_requests" && sample(text, "nodejs_active_requests_total") === 0) continue
        assert.strictEqual(types.get(definition.name), definition.type, definition.name)
        assert.strictEqual(counts.get(definition.name), 1, definition.name)
        assert.strictEqual(definition.type === "counter", definition.name.endsWith("_seconds_total"), definition.name)
      }
      assert.strictEqual(
        sample(text, "kms_plugin_build_info", { version: pluginVersion, revision: pluginRevision, node_version: process.version }),
        1
      )
      assert.strictEqual(sample(text, "nodejs_version_info", { version: process.version }), 1)
      assert.strictEqual(sample(text, "process_start_time_seconds"), Math.round(performance.timeOrigin) / 1000)
      assert.strictEqual(sample(text, "nodejs_gc_duration_seconds_bucket", { kind: "weakcb", le: "+Inf" }), 0)
      assert.isDefined(sample(text, "nodejs_heap_space_size_used_bytes", { space: "old" }))
    }).pipe(Effect.scoped)
  )

  it.live("/metrics: the plugin's metrics and the runtime ones, each family declared once; CPU only grows; the old names are gone", () =>
    Effect.gen(function* () {
      const { url } = yield* InProcessPlugin
      const first = (yield* httpGet(`${url}/metrics`)).body
      yield* busyFor(20)
      const second = (yield* httpGet(`${url}/metrics`)).body
      const { counts, types } = declaredTypes(second)
      for (const [name, count] of counts) assert.strictEqual(count, 1, `${name} declared ${count} times`)
      assert.strictEqual(types.get("kms_plugin_kms_healthy"), "gauge")
      assert.strictEqual(types.get("process_cpu_seconds_total"), "counter")
      assert.strictEqual(types.get("nodejs_gc_duration_seconds"), "histogram")
      assert.isAbove(sample(second, "process_cpu_seconds_total") ?? 0, sample(first, "process_cpu_seconds_total") ?? Infinity)
      assert.strictEqual(sample(second, "process_start_time_seconds"), sample(first, "process_start_time_seconds"))
      assert.notInclude(second, "kms_plugin_process_resident_memory_bytes")
      assert.notInclude(second, "kms_plugin_event_loop_delay_p99_seconds")
    }).pipe(Effect.provide(InProcessPlugin.layer({ health: true })))
  )
})
