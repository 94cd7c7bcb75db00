import { monitorEventLoopDelay } from "node:perf_hooks"
import * as Effect from "effect/Effect"
import * as Metric from "effect/Metric"
import type { KeyStatus } from "../kms/KeyManagement.ts"
import { parseKeyVersionName } from "../kms/KeyNames.ts"
import { eventLoopDelay, keyVersionInfo, kmsHealthy, labelled, residentMemory } from "./Metrics.ts"

// Gauges read when Prometheus scrapes, not kept up to date in between.

const versionGauge = labelled(keyVersionInfo)

export const makeScrapeGauges = Effect.gen(function*() {
  const loopDelay = yield* Effect.acquireRelease(
    Effect.sync(() => {
      const histogram = monitorEventLoopDelay({ resolution: 10 })
      histogram.enable()
      return histogram
    }),
    (histogram) => Effect.sync(() => histogram.disable())
  )
  let shownVersion: string | undefined
  return (status: KeyStatus) =>
    Effect.gen(function*() {
      yield* Metric.update(residentMemory, process.memoryUsage.rss())
      yield* Metric.update(eventLoopDelay, loopDelay.count > 0 ? loopDelay.percentile(99) / 1e9 : 0)
      loopDelay.reset()
      yield* Metric.update(kmsHealthy, status.problem === undefined && status.keyVersion !== undefined ? 1 : 0)
      if (status.keyVersion !== shownVersion) {
        if (shownVersion !== undefined) yield* Metric.update(versionGauge(versionLabels(shownVersion)), 0)
        if (status.keyVersion !== undefined) yield* Metric.update(versionGauge(versionLabels(status.keyVersion)), 1)
        shownVersion = status.keyVersion
      }
    })
})

// The version number only, never the key's name.
const versionLabels = (keyVersion: string) => ({ version: String(parseKeyVersionName(keyVersion)?.version ?? "unknown") })
