import { assert, describe, it } from "@effect/vitest"
import * as Metric from "effect/Metric"
import * as Metrics from "../../src/observability/Metrics.ts"
import { runtimeMetricDefinitions } from "../../src/observability/RuntimeMetrics.ts"
import { alertRules, dashboardExpressions, loadDashboard, metricNamesIn, usedMetricNames } from "./assets.ts"

// The Grafana dashboard's shape, and the contract between the shipped
// assets and the plugin: every metric a rule or a panel uses is one the
// plugin exports (the end-to-end test then finds each in a real Prometheus).

/** Sample names the plugin exports: each family, and a histogram's _bucket/_sum/_count. */
const exportedSampleNames = (): ReadonlySet<string> => {
  const families = [
    ...Object.values(Metrics).flatMap((value) => (Metric.isMetric(value) ? [{ name: value.id, type: value.type.toLowerCase() }] : [])),
    ...runtimeMetricDefinitions
  ]
  return new Set(families.flatMap(({ name, type }) => (type === "histogram" ? [`${name}_bucket`, `${name}_sum`, `${name}_count`] : [name])))
}

// Made by Prometheus itself for every target.
const prometheusMade = new Set(["up"])

describe("dashboard and rules vs the plugin's metrics", () => {
  it("metric names are found in PromQL: not functions, keywords, labels, durations or variables", () => {
    assert.deepStrictEqual(
      metricNamesIn(
        'sum by (job, le) (rate(a_bucket{x="y_z"}[$__rate_interval] offset 5m)) / on (job) group_left (version) b and c > 0.85 * 1e9'
      ),
      ["a_bucket", "b", "c"]
    )
    assert.deepStrictEqual(metricNamesIn('label_values(kms_plugin_build_info{job=~"$job"}, instance)'), ["kms_plugin_build_info"])
    assert.deepStrictEqual(metricNamesIn("time() - max by (instance) (x_seconds)"), ["x_seconds"])
  })

  it("every metric a rule or a panel uses is one the plugin exports", () => {
    const exported = exportedSampleNames()
    const used = usedMetricNames()
    assert.isAbove(used.size, 20)
    for (const [name, where] of used) {
      assert.isTrue(exported.has(name) || prometheusMade.has(name), `${name} (used by ${where.join(", ")}) is not exported by the plugin`)
    }
  })

  it("job and instance variables; every query of a panel is filtered by both", () => {
    const dashboard = loadDashboard()
    const variables = dashboard.templating.list.map((v) => `${v.name}:${v.type}`)
    assert.includeMembers(variables, ["datasource:datasource", "job:query", "instance:query"])
    for (const { expr, where } of dashboardExpressions()) {
      if (where.startsWith("variable")) continue
      // Each selector of a metric carries both matchers.
      const selectorPattern = /([a-zA-Z_:][a-zA-Z0-9_:]*)\{([^}]*)\}/g
      const selectors = [...expr.matchAll(selectorPattern)]
      assert.isAbove(selectors.length, 0, `${where}: no selector`)
      for (const selector of selectors) {
        assert.include(selector[2] ?? "", 'job=~"$job"', `${where}: ${selector[0]}`)
        assert.include(selector[2] ?? "", 'instance=~"$instance"', `${where}: ${selector[0]}`)
      }
      // No metric named without a selector.
      assert.deepStrictEqual(metricNamesIn(expr.replace(selectorPattern, "0")), [], `${where}: a metric without the job/instance filter`)
    }
  })

  it("panels: unique ids, a title and a description each, inside the 24-column grid, without overlaps", () => {
    const { panels, uid } = loadDashboard()
    assert.strictEqual(uid, "k8s-cloudkms-plugin")
    assert.strictEqual(new Set(panels.map((p) => p.id)).size, panels.length)
    const cells = new Set<string>()
    for (const panel of panels) {
      assert.isAbove(panel.title.length, 0)
      if (panel.type !== "row") assert.isAbove(panel.description?.length ?? 0, 20, panel.title)
      if (panel.type !== "row") assert.isAbove(panel.targets?.length ?? 0, 0, panel.title)
      const { h, w, x, y } = panel.gridPos
      assert.isAtMost(x + w, 24, panel.title)
      for (let row = y; row < y + h; row++) {
        for (let column = x; column < x + w; column++) {
          const cell = `${row},${column}`
          assert.isFalse(cells.has(cell), `${panel.title} overlaps another panel at ${cell}`)
          cells.add(cell)
        }
      }
    }
  })

  it("the dashboard shows what the issue asks for: RPC rate/latency/errors, Cloud KMS, retries, integrity, coalescing, key version and health, process", () => {
    const used = usedMetricNames()
    const inDashboard = (name: string) => (used.get(name) ?? []).some((where) => where.startsWith("panel"))
    for (const name of [
      "kms_plugin_grpc_requests_total",
      "kms_plugin_grpc_request_duration_seconds_bucket",
      "kms_plugin_cloudkms_calls_total",
      "kms_plugin_cloudkms_call_duration_seconds_bucket",
      "kms_plugin_cloudkms_retries_total",
      "kms_plugin_cloudkms_integrity_failures_total",
      "kms_plugin_decrypt_coalesced_total",
      "kms_plugin_key_version_info",
      "kms_plugin_kms_healthy",
      "kms_plugin_kms_last_check_timestamp_seconds",
      "process_cpu_seconds_total",
      "process_resident_memory_bytes",
      "nodejs_heap_size_used_bytes",
      "nodejs_gc_duration_seconds_sum",
      "nodejs_eventloop_lag_p99_seconds"
    ])
      assert.isTrue(inDashboard(name), `no panel shows ${name}`)
    // And every alert's metrics are on the dashboard too, so a page can be followed there.
    for (const rule of alertRules()) {
      for (const name of metricNamesIn(rule.expr)) {
        if (name === "kms_plugin_build_info" || name === "process_max_fds") continue
        assert.isTrue(inDashboard(name) || name === "up", `${rule.alert}: ${name} is on no panel`)
      }
    }
  })
})
