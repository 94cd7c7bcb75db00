import * as fs from "node:fs"
import * as path from "node:path"
import * as Schema from "effect/Schema"
import { parse } from "yaml"
import { projectRoot } from "../support/projectRoot.ts"

// The shipped monitoring assets (docker/monitoring/), decoded, and what the
// tests ask of them: alerts, expressions, the metric names these use.

export const monitoringDir = path.join(projectRoot, "docker/monitoring")
export const rulesFile = path.join(monitoringDir, "kms-plugin.rules.yaml")
export const rulesTestFile = path.join(monitoringDir, "kms-plugin.rules.test.yaml")
export const prometheusRuleFile = path.join(monitoringDir, "kms-plugin.prometheusrule.yaml")
export const dashboardFile = path.join(monitoringDir, "kms-plugin.dashboard.json")

const Labels = Schema.Record(Schema.String, Schema.String)

const AlertRule = Schema.Struct({
  alert: Schema.String,
  expr: Schema.String,
  for: Schema.optional(Schema.String),
  labels: Labels,
  annotations: Labels
})
export type AlertRule = typeof AlertRule.Type

export const RuleGroups = Schema.Struct({
  groups: Schema.Array(Schema.Struct({ name: Schema.String, rules: Schema.Array(AlertRule) }))
})

const RulesTests = Schema.Struct({
  rule_files: Schema.Array(Schema.String),
  tests: Schema.Array(
    Schema.Struct({
      alert_rule_test: Schema.Array(
        Schema.Struct({
          eval_time: Schema.String,
          alertname: Schema.String,
          exp_alerts: Schema.Array(Schema.Struct({ exp_labels: Labels, exp_annotations: Schema.optional(Labels) }))
        })
      )
    })
  )
})

const Target = Schema.Struct({ expr: Schema.String, refId: Schema.String })
const Panel = Schema.Struct({
  id: Schema.Number,
  type: Schema.String,
  title: Schema.String,
  description: Schema.optional(Schema.String),
  gridPos: Schema.Struct({ h: Schema.Number, w: Schema.Number, x: Schema.Number, y: Schema.Number }),
  targets: Schema.optional(Schema.Array(Target))
})
export type Panel = typeof Panel.Type
const Dashboard = Schema.Struct({
  uid: Schema.String,
  title: Schema.String,
  panels: Schema.Array(Panel),
  templating: Schema.Struct({
    list: Schema.Array(Schema.Struct({ name: Schema.String, type: Schema.String, query: Schema.optional(Schema.Unknown) }))
  })
})

export const rulesText = () => fs.readFileSync(rulesFile, "utf8")
export const loadRules = () => Schema.decodeUnknownSync(RuleGroups)(parse(rulesText()))
export const loadRulesTests = () => Schema.decodeUnknownSync(RulesTests)(parse(fs.readFileSync(rulesTestFile, "utf8")))
export const loadDashboard = () => Schema.decodeUnknownSync(Dashboard)(JSON.parse(fs.readFileSync(dashboardFile, "utf8")))

export const alertRules = (): ReadonlyArray<AlertRule> => loadRules().groups.flatMap((group) => group.rules)

/** Every PromQL expression of a panel, and of the templating variables' queries. */
export const dashboardExpressions = (): ReadonlyArray<{ readonly where: string; readonly expr: string }> => {
  const dashboard = loadDashboard()
  return [
    ...dashboard.panels.flatMap((panel) =>
      (panel.targets ?? []).map((t) => ({ where: `panel "${panel.title}" ${t.refId}`, expr: t.expr }))
    ),
    ...dashboard.templating.list.flatMap((variable) =>
      typeof variable.query === "string" && variable.type === "query" ? [{ where: `variable ${variable.name}`, expr: variable.query }] : []
    )
  ]
}

const keywords = new Set([
  "and",
  "or",
  "unless",
  "by",
  "without",
  "on",
  "ignoring",
  "group_left",
  "group_right",
  "offset",
  "bool",
  "inf",
  "nan"
])

/**
 * The metric names a PromQL expression selects (Grafana's label_values() and
 * $variables allowed). Enough PromQL for our files: strings, label matchers,
 * ranges, offsets and grouping clauses are dropped, then every identifier
 * that is neither a function call nor a keyword is a metric name.
 */
export const metricNamesIn = (expr: string): ReadonlyArray<string> => {
  const bare = expr
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, '""')
    .replace(/\{[^}]*\}/g, " ")
    .replace(/\[[^\]]*\]/g, " ")
    .replace(/\boffset\s+-?[0-9a-z]+/g, " ")
    .replace(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, " ")
    // label_values(metric, label): the label is not a metric.
    .replace(/\blabel_values\s*\(([^,)]*),[^)]*\)/g, "($1)")
  const names = [...bare.matchAll(/(?<![\w$.:])([a-zA-Z_:][a-zA-Z0-9_:]*)(?![\w:]|\s*\()/g)]
    .map((m) => m[1] ?? "")
    .filter((name) => !keywords.has(name.toLowerCase()))
  return [...new Set(names)].sort()
}

/** Every metric name used by a rule or a dashboard query, with where it is used. */
export const usedMetricNames = (): ReadonlyMap<string, ReadonlyArray<string>> => {
  const uses = new Map<string, Array<string>>()
  const add = (where: string, expr: string) => {
    for (const name of metricNamesIn(expr)) uses.set(name, [...(uses.get(name) ?? []), where])
  }
  for (const rule of alertRules()) add(`alert ${rule.alert}`, rule.expr)
  for (const { where, expr } of dashboardExpressions()) add(where, expr)
  return uses
}

/** GitHub's anchor of a Markdown heading. */
export const headingAnchor = (heading: string): string =>
  heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, "")
    .replace(/\s/g, "-")

export const readmeAnchors = (): ReadonlySet<string> => {
  const readme = fs.readFileSync(path.join(projectRoot, "README.md"), "utf8")
  return new Set([...readme.matchAll(/^#{1,6} (.+)$/gm)].map((m) => headingAnchor(m[1] ?? "")))
}

/** An executable on PATH (or in the usual sbin/bin folders), or undefined. */
export const findExecutable = (name: string): string | undefined => {
  const dirs = [...(process.env["PATH"] ?? "").split(path.delimiter), "/usr/bin", "/usr/local/bin", "/usr/sbin", "/bin"]
  for (const dir of dirs) {
    if (dir === "") continue
    const candidate = path.join(dir, name)
    try {
      fs.accessSync(candidate, fs.constants.X_OK)
      return candidate
    } catch {
      // not here
    }
  }
  return undefined
}

/** promtool / prometheus, or a failure that says how to get them (never a skip). */
export const requireExecutable = (name: string): string => {
  const found = findExecutable(name)
  if (found === undefined) {
    throw new Error(
      `${name} is not installed: the monitoring tests need Prometheus's own tools. On Debian or Ubuntu: ` +
        "`sudo apt-get install -y --no-install-recommends prometheus` (it provides promtool and the prometheus server; .ci/run installs it); " +
        "elsewhere, put the promtool and prometheus binaries of a Prometheus 2.x release on PATH."
    )
  }
  return found
}
