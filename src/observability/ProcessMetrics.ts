import * as Effect from "effect/Effect"
import * as Metric from "effect/Metric"
import type { KeyStatus } from "../kms/KeyManagement.ts"
import { parseKeyVersionName } from "../kms/KeyNames.ts"
import { keyVersionInfo, kmsHealthy, labelled } from "./Metrics.ts"

// Gauges read when Prometheus scrapes, not kept up to date in between.

const versionGauge = labelled(keyVersionInfo)

export const makeScrapeGauges = Effect.sync(() => {
  let shownVersion: string | undefined
  return (status: KeyStatus) =>
    Effect.gen(function*() {
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
