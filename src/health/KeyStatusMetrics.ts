import * as Effect from "effect/Effect"
import * as Metric from "effect/Metric"
import * as Ref from "effect/Ref"
import { parseKeyVersionName } from "../config/KeyNames.ts"
import type { KeyStatus } from "../kms/KeyManagement.ts"
import { labelled } from "../observability/Labels.ts"
import { keyVersionInfoSeries, kmsHealthy } from "../observability/Metrics.ts"

// The key's gauges, from the backend's Status at scrape time. key_version_info
// follows the _info convention: one series, value 1, for the version new data
// is wrapped with; the previous version's series is removed when it changes.

const versionInfo = labelled(keyVersionInfoSeries)

const labelsOf = (keyVersion: string) => {
  const parsed = parseKeyVersionName(keyVersion)
  return parsed === undefined ? { key: keyVersion, version: "unknown" } : { key: parsed.cryptoKey, version: String(parsed.version) }
}

export const makeKeyStatusMetrics = Effect.gen(function* () {
  const shown = yield* Ref.make<string | undefined>(undefined)
  return (status: KeyStatus) =>
    Effect.gen(function* () {
      yield* Metric.update(kmsHealthy, status.problem === undefined && status.keyVersion !== undefined ? 1 : 0)
      const previous = yield* Ref.getAndSet(shown, status.keyVersion)
      if (status.keyVersion === previous) return
      if (previous !== undefined) yield* Metric.remove(versionInfo(labelsOf(previous)))
      if (status.keyVersion !== undefined) yield* Metric.update(versionInfo(labelsOf(status.keyVersion)), 1)
    })
})
