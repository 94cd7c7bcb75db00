import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { peakRssMib, rssMib } from "../support/procStats.ts"
import { projectRoot } from "../support/projectRoot.ts"
import { installCleanup } from "./cleanup.ts"
import { cloudMarkdown, cloudProblems, runCloudScenarios } from "./cloudScenarios.ts"
import { gitDescription } from "./gitDescription.ts"
import type { LoadResult } from "./loadResult.ts"
import { type BenchOptions, parseOptions, usage } from "./options.ts"
import { type BenchServices, loadServices } from "./protos.ts"
import { markdown, type ServerName, type ServerRun, summarize } from "./report.ts"
import { runLoadGenerator } from "./runLoad.ts"
import { type Scenario, scenarios } from "./scenarios.ts"
import { type RunningServer, type ServerCommand, startServer } from "./serverProcess.ts"

// `npm run bench`: the plugin against the floor server, in alternating sets,
// each set on fresh server processes, every scenario's load from a separate
// load-generator process. Prints a markdown table, writes JSON.

const here = path.dirname(fileURLToPath(import.meta.url))
const log = (line: string) => process.stderr.write(`bench: ${line}\n`)

const pluginArgsFor = (socket: string) => [
  "--kms-backend",
  "fake",
  "--path-to-unix-socket",
  socket,
  "--healthz-port",
  "0",
  "--log-level",
  "warn"
]

const serverCommands = (options: BenchOptions): Record<ServerName, ServerCommand> => ({
  plugin: { command: options.pluginCommand, argsFor: pluginArgsFor },
  floor:
    options.baselineCommand === undefined
      ? { command: [process.execPath, path.join(here, "floorServer.ts")], argsFor: (socket) => ["--socket", socket] }
      : { command: options.baselineCommand, argsFor: pluginArgsFor }
})

const runLoad = (server: RunningServer, scenario: Scenario, options: BenchOptions): Promise<LoadResult> =>
  runLoadGenerator(server, {
    kind: scenario.kind,
    concurrency: scenario.concurrency,
    durationMillis: options.durationMillis,
    warmupMillis: options.warmupMillis,
    channels: options.channels,
    sampleRss: scenario.samplePeakRss,
    warmupCalls: options.warmupCalls
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
        peakRssUnderLoadMib = Number.isFinite(peakRssUnderLoadMib)
          ? Math.max(peakRssUnderLoadMib, result.serverPeakRssMib)
          : result.serverPeakRssMib
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

/** A command line as it reads on any machine: "node" for this Node, paths relative to the project. */
const portable = (words: ReadonlyArray<string>): ReadonlyArray<string> =>
  words.map((word) => (word === process.execPath ? "node" : word.startsWith(`${projectRoot}/`) ? path.relative(projectRoot, word) : word))

const main = async (): Promise<number> => {
  installCleanup()
  const options = parseOptions(process.argv.slice(2), process.env)
  if (options === "help") {
    process.stdout.write(`${usage}\n`)
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

  const cloud = options.cloud === "off" ? undefined : await runCloudScenarios(options.pluginCommand, services, options, log)
  const summary = summarize(runs, chosen)
  const floorLabel = options.baselineCommand === undefined ? "floor" : "baseline"
  if (options.baselineCommand !== undefined) log(`baseline in the floor's seat: ${options.baselineCommand.join(" ")}`)
  const table =
    (runs.length > 0 ? markdown(summary, chosen, options.sets, floorLabel) : "") + (cloud === undefined ? "" : `\n${cloudMarkdown(cloud)}`)
  const totalSeconds = (performance.now() - startedAt) / 1000
  process.stdout.write(table)
  process.stdout.write(`\n${options.smoke ? "smoke run" : "run"} took ${totalSeconds.toFixed(1)} s\n`)

  fs.mkdirSync(path.dirname(options.outFile), { recursive: true })
  fs.writeFileSync(
    options.outFile,
    `${JSON.stringify(
      {
        meta: {
          date: new Date().toISOString(),
          node: process.version,
          cpus: os.cpus().length,
          cpuModel: os.cpus()[0]?.model ?? "unknown",
          loadAverageBefore: loadBefore,
          loadAverageAfter: os.loadavg(),
          git: gitDescription(),
          pluginCommand: portable(options.pluginCommand),
          totalSeconds
        },
        options: {
          ...options,
          scenarioIds: [...options.scenarioIds],
          pluginCommand: portable(options.pluginCommand),
          baselineCommand: options.baselineCommand === undefined ? undefined : portable(options.baselineCommand),
          outFile: portable([options.outFile])[0]
        },
        scenarios: chosen,
        summary,
        runs,
        cloud
      },
      null,
      2
    )}\n`
  )
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
