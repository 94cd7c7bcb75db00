import { performance } from "node:perf_hooks"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import type * as LogLevel from "effect/LogLevel"
import * as References from "effect/References"
import { CallObserver, type CallOutcome, logCall } from "../../src/grpc/CallObserver.ts"

// `node test/bench/callObserverCost.ts`: what observing one successful call
// costs, per log level. The per-call debug record (--log-level debug) must
// cost nothing above debug: CallObserver.layer reads the level once and, at
// info, never builds the record. Measured against two baselines in the same
// run: the same observer with the debug record built on every call and
// dropped by the level check (what a naive `Effect.logDebug` per call costs
// at info), and the observer at debug (the record built, written to a logger
// that does nothing). Ratios of medians over alternating sets; no timing is
// asserted anywhere.

const outcome: CallOutcome = { method: { api: "v2", name: "Encrypt" }, uid: "uid-1", seconds: 0.0012, failure: undefined, cause: undefined }
const writesNothing = Logger.make(() => {})
const sets = Number(process.env["BENCH_SETS"] ?? 7)
const callsPerSet = Number(process.env["BENCH_CALLS"] ?? 200_000)

const contextAt = (level: LogLevel.LogLevel) =>
  Effect.runSync(
    Effect.scoped(
      Layer.build(
        Layer.mergeAll(CallObserver.layer, Logger.layer([writesNothing])).pipe(
          Layer.provideMerge(Layer.succeed(References.MinimumLogLevel, level))
        )
      )
    )
  )

type Observe = (outcome: CallOutcome) => Effect.Effect<void>

const variants = (() => {
  const info = contextAt("Info")
  const debug = contextAt("Debug")
  const infoObserve = Context.get(info, CallObserver).observe
  return {
    info: { context: info, observe: infoObserve },
    "info, record built anyway": { context: info, observe: ((o) => Effect.andThen(infoObserve(o), logCall(o))) satisfies Observe },
    debug: { context: debug, observe: Context.get(debug, CallObserver).observe }
  }
})()
type Variant = keyof typeof variants

/** Nanoseconds per observed call. */
const measure = (name: Variant): number => {
  const { context, observe } = variants[name]
  const run = Effect.runSyncWith(context)
  const loop = Effect.gen(function* () {
    for (let i = 0; i < callsPerSet; i++) yield* observe(outcome)
  })
  const start = performance.now()
  run(loop)
  return ((performance.now() - start) * 1e6) / callsPerSet
}

const median = (values: ReadonlyArray<number>): number => {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN
}

const names = Object.keys(variants).filter((name): name is Variant => name in variants)
for (const name of names) measure(name) // warm-up
const results = new Map<Variant, Array<number>>(names.map((name) => [name, []]))
for (let set = 0; set < sets; set++) {
  // Alternate the order so no variant always runs first.
  for (const name of set % 2 === 0 ? names : [...names].reverse()) results.get(name)?.push(measure(name))
}

const info = median(results.get("info") ?? [])
process.stdout.write(`observing one OK call, ${sets} sets x ${callsPerSet} calls (median, min-max ns/call)\n\n`)
process.stdout.write("| variant | ns/call | / info |\n| --- | --- | --- |\n")
for (const name of names) {
  const values = results.get(name) ?? []
  const m = median(values)
  process.stdout.write(
    `| ${name} | ${m.toFixed(0)} (${Math.min(...values).toFixed(0)}-${Math.max(...values).toFixed(0)}) | ${(m / info).toFixed(2)}x |\n`
  )
}
