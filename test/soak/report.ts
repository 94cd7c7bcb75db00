import type { Counts, SoakResult } from "./driver.ts"

// The soak's markdown summary.

const percent = (rate: number) => `${(rate * 100).toFixed(rate === 1 ? 0 : 2)}%`

const failures = (byCode: Readonly<Record<string, number>>) => {
  const entries = Object.entries(byCode).sort((a, b) => b[1] - a[1])
  return entries.length === 0 ? "–" : entries.map(([code, n]) => `${code} ${n}`).join(", ")
}

const row = (name: string, counts: Counts, extra: { readonly rss: string; readonly heap: string; readonly seconds: string }) =>
  `| ${name} | ${extra.seconds} | ${counts.calls} | ${counts.successes} | ${percent(counts.successRate)} | ${failures(counts.failuresByCode)} | ` +
  `${counts.wrongPlaintexts} | ${counts.lateCalls} | ${counts.latencyMillis.p50} | ${counts.latencyMillis.p99} | ${counts.latencyMillis.max} | ` +
  `${extra.rss} | ${extra.heap} |`

export const markdown = (result: SoakResult): string => {
  const lines = [
    `## Fault soak: ${result.ok ? "PASS" : "FAIL"}`,
    "",
    `${result.config.concurrency} workers, seed ${result.config.seed}, ${result.config.deadlineMillis} ms deadline per call, ` +
      `plugin ${result.config.built ? "dist/main.mjs" : "src/main.ts"} (CloudKms backend, default retry policy` +
      `${result.config.pluginArgs.length > 0 ? ` + ${result.config.pluginArgs.join(" ")}` : ""}), ` +
      `Node ${result.machine.node}, ${result.machine.cpus} CPUs; ${(result.runtimeMillis / 1000).toFixed(0)} s in all.`,
    "",
    "| phase | s | calls | ok | success | failures by code | wrong plaintexts | late | p50 ms | p99 ms | max ms | VmRSS MiB | live heap MiB |",
    "|---|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|---|---:|",
    ...result.phases.map((phase) =>
      row(phase.name, phase, {
        seconds: (phase.plannedMillis / 1000).toFixed(1),
        rss: `${phase.rssStartMib} → ${phase.rssEndMib} (${phase.rssAfterGcMib} after GC)`,
        heap: String(phase.liveHeapEndMib)
      })
    ),
    row("**total**", result.total, {
      seconds: (result.phases.reduce((s, p) => s + p.plannedMillis, 0) / 1000).toFixed(1),
      rss: `${result.plugin.rssStartMib} → ${result.plugin.rssEndMib} after GC (peak ${result.plugin.peakRssMib})`,
      heap: `${result.plugin.liveHeapMib.idle} → ${result.plugin.liveHeapMib.end}`
    }),
    "",
    "VmRSS: at the start and end of each phase's load, and right after a full GC forced through the inspector once its calls are over; " +
      "total: after a full GC before any load → after the last phase, and the peak (VmHWM). " +
      "Live heap: V8 heap in use right after that full GC (total: idle → end).",
    "",
    "Phases:",
    ...result.phases.map((phase) => {
      const events = Object.entries(phase.faultEvents)
        .map(([event, n]) => `${n} ${event}`)
        .join(", ")
      return (
        `- **${phase.name}**: ${phase.description}${events === "" ? "" : ` (${events})`}; ` +
        `min slack ${phase.minSlackMillis} ms; Cloud KMS calls ${Object.values(phase.fake.calls).reduce((a, b) => a + b, 0)}, ` +
        `cancelled by the plugin ${Object.values(phase.fake.cancelled).reduce((a, b) => a + b, 0)}; driver loop delay max ${phase.driverLoopDelayMillis.max} ms`
      )
    }),
    "",
    `Leak scan: ${result.leaks.plaintextsMade} plaintexts, ${result.leaks.scannedLogBytes} log bytes (${result.plugin.logLines} lines), ` +
      `${result.leaks.errorMessagesScanned} distinct error messages: **${result.leaks.hitCount} hits**.`,
    `Plugin metrics: ${
      Object.entries(result.plugin.metrics)
        .filter(([name]) => name.includes("{") || name.includes("integrity") || name.includes("retries"))
        .map(([name, n]) => `${name.replace("kms_plugin_", "")} ${n}`)
        .join(", ") || "–"
    }.`,
    "",
    "Checks:",
    ...result.checks.filter((c) => !c.ok).map((c) => `- ✗ ${c.name}: ${c.detail}`),
    `- ✓ ${result.checks.filter((c) => c.ok).length} of ${result.checks.length} checks passed`
  ]
  return `${lines.join("\n")}\n`
}
