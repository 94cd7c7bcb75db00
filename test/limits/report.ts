import type { LimitsResult } from "./runLimits.ts"

// The limits run's markdown summary.

export const markdown = (result: LimitsResult): string => {
  const lines = [
    `## Inside the static pod's limits: ${result.ok ? "PASS" : "FAIL"}`,
    "",
    `\`${result.plugin.command.join(" ")}\` in a cgroup v${result.limits.cgroupVersion ?? "?"} limited to ${result.limits.memoryMib} MiB ` +
      `and ${result.limits.cpus} CPU (no swap); every caller's deadline ${result.deadlineMillis} ms; Node ${result.machine.node}, ` +
      `${result.machine.cpus} CPUs, load average ${result.machine.loadAverage.join(" ")}; ${(result.runtimeMillis / 1000).toFixed(0)} s in all.`,
    "",
    "| scenario | calls | wrong plaintexts | late | slowest ms | OOM kills | cgroup peak MiB | anonymous peak MiB | plugin VmHWM MiB | CPU throttled periods |",
    "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ...result.scenarios.map(
      (s) =>
        `| ${s.name} | ${s.calls} | ${s.wrongPlaintexts} | ${s.lateCalls} | ${s.slowestMillis} | ${s.cgroup.oomKills} | ` +
        `${s.memory.cgroupPeakMib} | ${s.memory.anonPeakMib} | ${s.memory.processPeakRssMib} | ${s.cgroup.cpuThrottledPeriods} of ${s.cgroup.cpuPeriods} |`
    ),
    "",
    ...result.scenarios.map((s) => `- **${s.name}**: ${s.description}`),
    "",
    "cgroup peak: the most memory charged to the cgroup (the process's anonymous memory, page cache it touched, kernel memory), " +
      "what the limit is enforced on; anonymous peak: its heap and buffers part (sampled every 100 ms); VmHWM: the plugin's own peak " +
      "resident set, which also counts the pages of the node binary and libraries it maps (charged to whichever cgroup read them first: " +
      "here, the one that ran node before; in a pod, the pod). Size a pod on VmHWM.",
    "",
    "Checks:",
    ...result.checks.filter((c) => !c.ok).map((c) => `- ✗ ${c.name}: ${c.detail}`),
    `- ✓ ${result.checks.filter((c) => c.ok).length} of ${result.checks.length} checks passed`
  ]
  return `${lines.join("\n")}\n`
}
