import { monitorEventLoopDelay } from "node:perf_hooks"
import * as Effect from "effect/Effect"
import * as Metric from "effect/Metric"
import { eventLoopDelay, residentMemory } from "./Metrics.ts"

// Process gauges, read when Prometheus scrapes rather than kept up to date in between.

/** Starts the event loop delay histogram (stopped with the scope); the effect refreshes the gauges. */
export const makeScrapeGauges = Effect.gen(function*() {
  const loopDelay = yield* Effect.acquireRelease(
    Effect.sync(() => {
      const histogram = monitorEventLoopDelay({ resolution: 10 })
      histogram.enable()
      return histogram
    }),
    (histogram) => Effect.sync(() => histogram.disable())
  )
  return Effect.gen(function*() {
    yield* Metric.update(residentMemory, process.memoryUsage.rss())
    yield* Metric.update(eventLoopDelay, loopDelay.count > 0 ? loopDelay.percentile(99) / 1e9 : 0)
    loopDelay.reset()
  })
})
