import * as fs from "node:fs"
import * as path from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { parse } from "yaml"
import { runToEnd } from "../support/childProcess.ts"
import { projectRoot } from "../support/projectRoot.ts"
import {
  alertRules,
  loadRulesTests,
  monitoringDir,
  prometheusRuleFile,
  readmeAnchors,
  requireExecutable,
  rulesFile,
  rulesTestFile,
  rulesText
} from "./assets.ts"
import { renderPrometheusRule } from "./prometheusRule.ts"

// The shipped alerting rules: valid for promtool, every alert unit-tested
// firing and not firing, annotated with a runbook that exists, and the
// PrometheusRule manifest equal to the rules file.

const promtool = (args: ReadonlyArray<string>) => runToEnd(requireExecutable("promtool"), args, { cwd: monitoringDir })

/** "256Mi", "1Gi", "300M", "1000" → bytes. */
const quantityBytes = (quantity: string): number => {
  const match = /^(\d+(?:\.\d+)?)(Ki|Mi|Gi|Ti|k|M|G|T)?$/.exec(quantity)
  if (match === null) throw new Error(`not a memory quantity: ${quantity}`)
  const factors: Record<string, number> = { Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, k: 1e3, M: 1e6, G: 1e9, T: 1e12 }
  return Number(match[1]) * (match[2] === undefined ? 1 : (factors[match[2]] ?? Number.NaN))
}

/** The value at a path of parsed YAML, or undefined where the path does not exist. */
const at = (value: unknown, ...keys: ReadonlyArray<string | number>): unknown =>
  keys.reduce<unknown>((inner, key) => (typeof inner === "object" && inner !== null ? Reflect.get(inner, key) : undefined), value)

const staticPodMemoryLimit = (): string => {
  const pod: unknown = parse(fs.readFileSync(path.join(projectRoot, "docker/static-pod.yaml"), "utf8"))
  const limit = at(pod, "spec", "containers", 0, "resources", "limits", "memory")
  if (typeof limit !== "string") throw new Error("docker/static-pod.yaml has no limits.memory on its container")
  return limit
}

describe("alerting rules", () => {
  it("a missing promtool or prometheus fails the tests with how to install it (never a skip)", () => {
    assert.throws(
      () => requireExecutable("promtool-that-is-not-installed"),
      /not installed.*apt-get install -y --no-install-recommends prometheus/
    )
  })

  it("promtool check rules: the rules file is valid", async () => {
    const result = await promtool(["check", "rules", rulesFile])
    assert.strictEqual(result.code, 0, result.stdout + result.stderr)
    assert.include(result.stdout, `SUCCESS: ${alertRules().length} rules found`)
  })

  it("promtool test rules: every unit test passes", async () => {
    const result = await promtool(["test", "rules", rulesTestFile])
    assert.strictEqual(result.code, 0, result.stdout + result.stderr)
    assert.include(result.stdout, "SUCCESS")
  })

  it("every alert has a unit test where it fires and one where it does not; no test names an unknown alert", () => {
    const alerts = alertRules().map((rule) => rule.alert)
    const cases = loadRulesTests().tests.flatMap((test) => test.alert_rule_test)
    assert.deepStrictEqual(loadRulesTests().rule_files, [path.basename(rulesFile)])
    for (const alert of alerts) {
      const mine = cases.filter((c) => c.alertname === alert)
      assert.isTrue(
        mine.some((c) => c.exp_alerts.length > 0),
        `${alert}: no test where it fires`
      )
      assert.isTrue(
        mine.some((c) => c.exp_alerts.length === 0),
        `${alert}: no test where it does not fire`
      )
      // Firing cases check the whole alert: labels and rendered annotations.
      for (const c of mine) for (const expected of c.exp_alerts) assert.isDefined(expected.exp_annotations, `${alert} at ${c.eval_time}`)
    }
    for (const c of cases) assert.include(alerts, c.alertname)
  })

  it("every alert has a severity, a summary, a description and a runbook section that exists in the README", () => {
    const anchors = readmeAnchors()
    const names = new Set<string>()
    for (const rule of alertRules()) {
      assert.isFalse(names.has(rule.alert), `${rule.alert} twice`)
      names.add(rule.alert)
      assert.match(rule.alert, /^KmsPlugin[A-Z][A-Za-z]+$/)
      assert.include(["critical", "warning", "info"], rule.labels["severity"], rule.alert)
      assert.deepStrictEqual(Object.keys(rule.annotations).sort(), ["description", "runbook", "summary"], rule.alert)
      const runbook = rule.annotations["runbook"] ?? ""
      assert.strictEqual(runbook, `README.md#${rule.alert.toLowerCase()}`, rule.alert)
      assert.isTrue(anchors.has(rule.alert.toLowerCase()), `README has no section ${rule.alert}`)
    }
  })

  it("the memory alert's threshold is 85% of the static pod's memory limit", () => {
    const rule = alertRules().find((r) => r.alert === "KmsPluginMemoryNearLimit")
    const match = /process_resident_memory_bytes > 0\.85 \* (\d+)\)/.exec(rule?.expr ?? "")
    assert.isNotNull(match, rule?.expr)
    const limit = staticPodMemoryLimit()
    assert.strictEqual(Number(match?.[1]), quantityBytes(limit), `docker/static-pod.yaml limits memory to ${limit}`)
    assert.include(rule?.annotations["summary"] ?? "", `its ${limit} limit`)
  })

  it("the PrometheusRule manifest is the rules file's groups, as generated (node test/monitoring/prometheusRule.ts --write)", () => {
    const manifest = fs.readFileSync(prometheusRuleFile, "utf8")
    assert.strictEqual(
      manifest,
      renderPrometheusRule(rulesText()),
      "kms-plugin.prometheusrule.yaml is out of date: run node test/monitoring/prometheusRule.ts --write"
    )
    const parsed: unknown = parse(manifest)
    assert.deepStrictEqual(at(parsed, "spec", "groups"), at(parse(rulesText()), "groups"))
    assert.strictEqual(at(parsed, "kind"), "PrometheusRule")
    assert.strictEqual(at(parsed, "apiVersion"), "monitoring.coreos.com/v1")
  })
})
