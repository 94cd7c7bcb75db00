import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { installCleanup } from "./cleanup.ts"
import type { LoadResult } from "./loadResult.ts"
import { runLoad } from "./loadProcess.ts"
import { type BenchOptions, parseOptions, usage } from "./options.ts"
import { peakRssMib, rssMib } from "./procStats.ts"
import { type BenchServices, loadServices, projectRoot } from "./protos.ts"
import { markdown, type ServerName, type ServerRun, summarize } from "./report.ts"
import { type Scenario, scenarios } from "./scenarios.ts"
import { cloudMarkdown, cloudProblems, runCloudScenarios } from "./cloudScenarios.ts"
import { type ServerCommand, startServer } from "./serverProcess.ts"

// `npm run bench`: the plugin against the floor server, in alternating sets,
// each set on fresh server processes, every scenario's load from a separate
// load-generator process. Prints a markdown table, writes JSON.

const here = path.dirname(fileURLToPath(import.meta.url))
const log = (line: string) => process.stderr.write(`bench: ${line}\n`)

const serverCommands = (options: BenchOptions): Record<ServerName, ServerCommand> => ({
  plugin: {
    command: options.pluginCommand,
    argsFor: (socket) => ["--kms-backend", "fake", "--path-to-unix-socket", socket, "--healthz-port", "0", "--log-level", "warn"]
  },
  floor: { command: [process.execPath, path.join(here, "floorServer.ts")], argsFor: (socket) => ["--socket", socket] }
})

const fmt = (value: number, digits: number) => (Number.isFinite(value) ? value.toFixed(digits) : "–")

const runServer = async (
  name: ServerName,
  set: number,
  chosen: ReadonlyArray<Scenario>,
  options: BenchOptions,
  services: BenchServices
): Promise<ServerRun> => {
  const server = await startServer(serverCommands(options)[name], services, { cwd: projectRoot, readyAttempts: 1000, retryMillis: 10 })
  try {
    // Before any load: what the process costs just for being up.
    const idleRssMib = rssMib(server.pid)
    log(`set ${set} ${name}: pid ${server.pid}, first Status after ${fmt(server.startMillis, 0)} ms, idle RSS ${fmt(idleRssMib, 1)} MiB`)
    const results: Record<string, LoadResult> = {}
    let peakRssUnderLoadMib = Number.NaN
    for (const scenario of chosen) {
      const result = await runLoad(server, scenario, options)
      results[scenario.id] = result
      if (scenario.samplePeakRss && Number.isFinite(result.serverPeakRssMib)) {
        peakRssUnderLoadMib = Number.isFinite(peakRssUnderLoadMib) ? Math.max(peakRssUnderLoadMib, result.serverPeakRssMib) : result.serverPeakRssMib
      }
      log(
        `set ${set} ${name}: ${scenario.label.padEnd(24)} ${fmt(result.opsPerSecond, 0).padStart(6)} ops/s  ` +
          `p50 ${fmt(result.p50Millis, 2)} ms  p99 ${fmt(result.p99Millis, 2)} ms  ` +
          `server cpu ${fmt(result.serverCpuMicrosPerOp, 0)} µs/op  client cpu ${fmt(result.clientCpuMicrosPerOp, 0)} µs/op  ` +
          `errors ${result.errors}`
      )
    }
    // At --log-level warn the plugin is silent unless something went wrong.
    if (server.stderr().includes('"level":"error"')) log(`${name} logged errors:\n${server.stderr()}`)
    return {
      server: name,
      set,
      startMillis: server.startMillis,
      idleRssMib,
      peakRssUnderLoadMib,
      lifetimePeakRssMib: peakRssMib(server.pid),
      scenarios: results
    }
  } finally {
    await server.stop()
  }
}

const gitDescription = (): string => {
  try {
    const commit = execFileSync("git", ["rev-parse", "--short", "HEAD"], { cwd: projectRoot, encoding: "utf8" }).trim()
    const dirty = execFileSync("git", ["status", "--porcelain"], { cwd: projectRoot, encoding: "utf8" }).trim() !== ""
    return dirty ? `${commit}+dirty` : commit
  } catch {
    return "unknown"
  }
}

const main = async (): Promise<number> => {
  installCleanup()
  const options = parseOptions(process.argv.slice(2), process.env)
  if (options === "help") {
    process.stdout.write(usage + "\n")
    return 0
  }
  const startedAt = performance.now()
  const services = loadServices()
  const chosen = scenarios.filter((s) => options.scenarioIds.includes(s.id))
  const loadBefore = os.loadavg()
  log(
    `${options.sets} set(s), ${chosen.length} scenario(s), ${options.durationMillis / 1000} s measured after ` +
      `${options.warmupMillis / 1000} s warm-up, plugin: ${options.pluginCommand.join(" ")}`
  )

  const runs: Array<ServerRun> = []
  for (let set = 1; set <= (options.cloud === "only" ? 0 : options.sets); set++) {
    // ABBA order (plugin first in odd sets, floor first in even ones), so a
    // slow drift of the machine's load does not favour either side.
    const order: ReadonlyArray<ServerName> = set % 2 === 1 ? ["plugin", "floor"] : ["floor", "plugin"]
    for (const name of order) runs.push(await runServer(name, set, chosen, options, services))
  }

  const cloud = options.cloud === "off"
    ? undefined
    : await runCloudScenarios(options.pluginCommand, services, options, log)
  const summary = summarize(runs, chosen)
  const table = (runs.length > 0 ? markdown(summary, chosen, options.sets) : "") + (cloud === undefined ? "" : `\n${cloudMarkdown(cloud)}`)
  const totalSeconds = (performance.now() - startedAt) / 1000
  process.stdout.write(table)
  process.stdout.write(`\n${options.smoke ? "smoke run" : "run"} took ${totalSeconds.toFixed(1)} s\n`)

  fs.mkdirSync(path.dirname(options.outFile), { recursive: true })
  fs.writeFileSync(options.outFile, JSON.stringify({
    meta: {
      date: new Date().toISOString(),
      node: process.version,
      cpus: os.cpus().length,
      cpuModel: os.cpus()[0]?.model ?? "unknown",
      loadAverageBefore: loadBefore,
      loadAverageAfter: os.loadavg(),
      git: gitDescription(),
      pluginCommand: options.pluginCommand,
      totalSeconds
    },
    options: { ...options, scenarioIds: [...options.scenarioIds] },
    scenarios: chosen,
    summary,
    runs,
    cloud
  }, null, 2) + "\n")
  log(`wrote ${path.relative(process.cwd(), options.outFile)}`)

  const problems = [...summary.problems, ...(cloud === undefined ? [] : cloudProblems(cloud))]
  if (problems.length > 0) {
    log(`FAILED: ${problems.length} problem(s)`)
    for (const problem of problems) log(`  ${problem}`)
    return 1
  }
  return 0
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    log(`failed: ${error instanceof Error ? error.message : String(error)}`)
    process.exit(1)
  }
)
