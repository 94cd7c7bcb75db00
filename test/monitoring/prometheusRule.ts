import * as fs from "node:fs"
import * as Schema from "effect/Schema"
import { parse, stringify } from "yaml"
import { prometheusRuleFile, RuleGroups, rulesText } from "./assets.ts"

// kms-plugin.prometheusrule.yaml is made from kms-plugin.rules.yaml, never
// edited by hand: `node test/monitoring/prometheusRule.ts --write` rewrites
// it, and a test fails when it differs from what this makes.

const header = `# The alerting rules of kms-plugin.rules.yaml as a PrometheusRule for the
# Prometheus Operator (monitoring.coreos.com/v1). Generated: do not edit; change
# kms-plugin.rules.yaml and run \`node test/monitoring/prometheusRule.ts --write\`.
#
# Apply it in the namespace your Prometheus reads rules from, with the labels
# its ruleSelector matches (kube-prometheus: prometheus=k8s, role=alert-rules;
# kube-prometheus-stack: release=<its release name>):
#   kubectl apply -n monitoring -f kms-plugin.prometheusrule.yaml
`

export const renderPrometheusRule = (rules: string): string => {
  const { groups } = Schema.decodeUnknownSync(RuleGroups)(parse(rules))
  const manifest = {
    apiVersion: "monitoring.coreos.com/v1",
    kind: "PrometheusRule",
    metadata: {
      name: "kms-plugin",
      labels: { "app.kubernetes.io/name": "k8s-cloudkms-plugin", prometheus: "k8s", role: "alert-rules" }
    },
    spec: { groups }
  }
  return header + stringify(manifest, { lineWidth: 0 })
}

if (process.argv[1] !== undefined && import.meta.filename === fs.realpathSync(process.argv[1])) {
  if (process.argv[2] === "--write") fs.writeFileSync(prometheusRuleFile, renderPrometheusRule(rulesText()))
  else process.stdout.write(renderPrometheusRule(rulesText()))
}
