import * as fs from "node:fs"
import * as path from "node:path"
import { assert, describe, it } from "@effect/vitest"
import * as Metric from "effect/Metric"
import * as Metrics from "../../src/observability/Metrics.ts"
import { runtimeMetricDefinitions } from "../../src/observability/RuntimeMetrics.ts"
import { projectRoot } from "../support/projectRoot.ts"

// The README's metric table lists exactly the metrics the plugin exports
// (its own, defined in Metrics.ts, and the runtime ones), each with its type.

const defined = [
  ...Object.values(Metrics).flatMap((value) => (Metric.isMetric(value) ? [`${value.id} ${value.type.toLowerCase()}`] : [])),
  ...runtimeMetricDefinitions.map((d) => `${d.name} ${d.type}`)
].sort()

const documented = (): ReadonlyArray<string> => {
  const readme = fs.readFileSync(path.join(projectRoot, "README.md"), "utf8")
  const start = readme.indexOf("\n## Metrics\n")
  const section = readme.slice(start, readme.indexOf("\n## ", start + 1))
  return [...section.matchAll(/^\| `([a-z][a-z0-9_]+)` \| ([a-z]+) \|/gm)].map((m) => `${m[1]} ${m[2]}`).sort()
}

describe("README metrics", () => {
  it("lists every metric the plugin exports, with its type, and no other", () => {
    assert.isAbove(defined.length, 30)
    assert.deepStrictEqual(documented(), defined)
  })
})
