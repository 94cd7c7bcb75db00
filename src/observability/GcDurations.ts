import { constants, PerformanceObserver } from "node:perf_hooks"
import * as Effect from "effect/Effect"

// Garbage collection pauses, by kind, as a histogram (prom-client's
// nodejs_gc_duration_seconds: same name, buckets and kinds). Counted when V8
// reports a collection, never per call; every kind is present at 0 from start.

export const gcBoundaries: ReadonlyArray<number> = [0.001, 0.01, 0.1, 1, 2, 5]

export const gcKinds = ["major", "minor", "incremental", "weakcb"] as const
export type GcKind = (typeof gcKinds)[number]

const kindOf = (code: number): GcKind | undefined => {
  switch (code) {
    case constants.NODE_PERFORMANCE_GC_MAJOR:
      return "major"
    case constants.NODE_PERFORMANCE_GC_MINOR:
    case constants.NODE_PERFORMANCE_GC_MINOR_MARK_SWEEP:
      return "minor"
    case constants.NODE_PERFORMANCE_GC_INCREMENTAL:
      return "incremental"
    case constants.NODE_PERFORMANCE_GC_WEAKCB:
      return "weakcb"
    default:
      return undefined
  }
}

/** A gc entry's kind, from its `detail` (typed `any` by Node: checked here). */
const kindOfDetail = (detail: unknown): GcKind | undefined =>
  typeof detail === "object" && detail !== null && "kind" in detail && typeof detail.kind === "number" ? kindOf(detail.kind) : undefined

export interface GcHistogram {
  readonly kind: GcKind
  /** Per bucket, not cumulative; the last one is +Inf. */
  readonly counts: ReadonlyArray<number>
  readonly sum: number
}

interface Tally {
  readonly counts: Array<number>
  sum: number
}

/** Observes garbage collections until the scope closes; returns a reader of the histograms. */
export const makeGcDurations = Effect.gen(function* () {
  const tallies = new Map<GcKind, Tally>(
    gcKinds.map((kind) => [kind, { counts: new Array<number>(gcBoundaries.length + 1).fill(0), sum: 0 }])
  )
  const record = (kind: GcKind | undefined, millis: number) => {
    const tally = kind === undefined ? undefined : tallies.get(kind)
    if (tally === undefined) return
    const seconds = millis / 1000
    const bucket = gcBoundaries.findIndex((le) => seconds <= le)
    const index = bucket === -1 ? gcBoundaries.length : bucket
    tally.counts[index] = (tally.counts[index] ?? 0) + 1
    tally.sum += seconds
  }
  yield* Effect.acquireRelease(
    Effect.sync(() => {
      const observer = new PerformanceObserver((list) => {
        for (const entry of list.getEntries()) record(kindOfDetail(Reflect.get(entry, "detail")), entry.duration)
      })
      observer.observe({ entryTypes: ["gc"] })
      return observer
    }),
    (observer) => Effect.sync(() => observer.disconnect())
  )
  return (): ReadonlyArray<GcHistogram> =>
    gcKinds.map((kind) => {
      const tally = tallies.get(kind)
      return { kind, counts: [...(tally?.counts ?? [])], sum: tally?.sum ?? 0 }
    })
})
