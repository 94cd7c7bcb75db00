import * as fs from "node:fs"
import * as path from "node:path"
import { assert, describe, it } from "@effect/vitest"
import * as Metric from "effect/Metric"
import * as Metrics from "../../src/observability/Metrics.ts"
import { projectRoot } from "../support/spawnPlugin.ts"

// The README's metric table lists exactly the metrics the plugin defines.

const defined = Object.values(Metrics).flatMap((value) => Metric.isMetric(value) ? [value.id] : []).sort()

const documented = (): ReadonlyArray<string> => {
  const readme = fs.readFileSync(path.join(projectRoot, "README.md"), "utf8")
  const section = readme.slice(readme.indexOf("## Metrics"), readme.indexOf("\n## ", readme.indexOf("## Metrics") + 1))
  return [...section.matchAll(/^\| `(kms_plugin_[a-z0-9_]+)` \|/gm)].map((m) => m[1] ?? "").sort()
}

describe("README metrics", () => {
  it("lists every metric the plugin exports, and no other", () => {
    assert.isAbove(defined.length, 5)
    assert.deepStrictEqual(documented(), defined)
  })
})
