import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { parseArgs } from "node:util"
import { machineNode, machinePath } from "../support/machineNode.ts"
import { cpuMicros, processTree, rssMib } from "../support/procStats.ts"
import { projectRoot } from "../support/projectRoot.ts"
import { installCleanup, trackDir } from "./cleanup.ts"
import { gitDescription } from "./gitDescription.ts"
import { loadServices } from "./protos.ts"
import { type ServerCommand, startServer } from "./serverProcess.ts"
import { type Spread, spreadOf } from "./stats.ts"

// `npm run bench:start`: how fast each way of starting the plugin serves,
// and what it costs in memory, all on the fake backend:
//   - the image's start command, `node dist/main.mjs` (the baseline),
//   - the `k8s-cloudkms-plugin` bin as a user's shell starts it, with the
//     machine's PATH (it execs the pinned Node 24 on the bundle),
//   - `npm start` from that shell,
//   - `npm run start:src`, the sources (development only), for reference.
// Each in rounds, in rotating order, on fresh processes. "First Status" is
// spawn → the first Status answered (bench polling, as in `npm run bench`);
// "CPU" the user + system time the server and its launchers used until
// then (steadier than the wall time on a loaded machine); "idle RSS" is the
// VmRSS of the process that serves, just after that; the launcher is
// whatever stands between (npm).

const usage = `usage: node test/bench/startup.ts [--runs N] [--out FILE]
  --runs N    rounds (default 5)
  --out FILE  JSON results (default test/bench/results/startup.json)`

interface Way {
  readonly id: string
  readonly label: string
  readonly server: ServerCommand
  readonly env: Readonly<Record<string, string>>
}

interface Sample {
  readonly firstStatusMillis: number
  /** CPU time (user + system, all threads) of the server and its launchers until then: the start's cost, whatever the machine's load. */
  readonly cpuMillis: number
  readonly servingRssMib: number
  /** RSS of the processes between the spawned one and the one that serves (0 when it serves itself). */
  readonly launcherRssMib: number
  readonly processes: number
}

const log = (line: string) => process.stderr.write(`bench:start: ${line}\n`)
const fmt = (value: number, digits: number) => (Number.isFinite(value) ? value.toFixed(digits) : "–")

const ways = (scratch: string): ReadonlyArray<Way> => {
  const flags = (socket: string) => ["--path-to-unix-socket", socket, "--healthz-port", "0", "--log-level", "warn"]
  const fake = ["--kms-backend", "fake"]
  // npm start's own defaults, moved out of the checkout.
  const npmEnv = { PATH: machinePath(), KMS_PLUGIN_FAKE_KEY_FILE: path.join(scratch, "fake-keys.json") }
  return [
    {
      id: "image",
      label: "`node dist/main.mjs` (the image's ENTRYPOINT)",
      server: { command: [process.execPath, path.join(projectRoot, "dist/main.mjs")], argsFor: (socket) => [...fake, ...flags(socket)] },
      env: {}
    },
    {
      id: "bin",
      label: "`k8s-cloudkms-plugin` (the bin), started with the machine's PATH",
      server: { command: [path.join(projectRoot, "bin/k8s-cloudkms-plugin")], argsFor: (socket) => [...fake, ...flags(socket)] },
      env: { PATH: machinePath() }
    },
    {
      id: "npm-start",
      label: "`npm start`",
      server: { command: ["npm", "start", "--"], argsFor: flags },
      env: npmEnv
    },
    {
      id: "start-src",
      label: "`npm run start:src` (sources, development)",
      server: { command: ["npm", "run", "start:src", "--"], argsFor: flags },
      env: npmEnv
    }
  ]
}

const measure = async (way: Way, services: ReturnType<typeof loadServices>): Promise<Sample> => {
  const server = await startServer(way.server, services, { cwd: projectRoot, readyAttempts: 3000, retryMillis: 10 }, way.env)
  try {
    const tree = processTree(server.pid)
    const serving = tree.at(-1) ?? server.pid
    const launchers = tree.filter((pid) => pid !== serving)
    return {
      firstStatusMillis: server.startMillis,
      cpuMillis: tree.reduce((sum, pid) => sum + cpuMicros(pid), 0) / 1000,
      servingRssMib: rssMib(serving),
      launcherRssMib: launchers.reduce((sum, pid) => sum + rssMib(pid), 0),
      processes: tree.length
    }
  } finally {
    await server.stop()
  }
}

const shown = (spread: Spread, digits: number) => `${fmt(spread.median, digits)} (${fmt(spread.min, digits)}–${fmt(spread.max, digits)})`

const main = async (): Promise<number> => {
  installCleanup()
  const { values } = parseArgs({ options: { runs: { type: "string" }, out: { type: "string" }, help: { type: "boolean" } } })
  if (values.help === true) {
    process.stdout.write(`${usage}\n`)
    return 0
  }
  const runs = Number(values.runs ?? "5")
  if (!Number.isInteger(runs) || runs < 1) throw new Error(`--runs must be a whole number >= 1, got ${values.runs}`)
  const outFile = path.resolve(values.out ?? path.join(projectRoot, "test/bench/results/startup.json"))
  const machine = machineNode()
  const scratch = trackDir(fs.mkdtempSync(path.join(os.tmpdir(), "kms-bench-start-")))
  const chosen = ways(scratch)
  const services = loadServices()
  const loadBefore = os.loadavg()
  log(`${runs} round(s); the machine's node: ${machine === undefined ? "none" : `v${machine.major}`}; the bundle's: ${process.version}`)

  const samples = new Map<string, Array<Sample>>(chosen.map((way) => [way.id, []]))
  for (let round = 0; round < runs; round++) {
    // Rotating order: a drift of the machine's load favours none of them.
    const order = chosen.map((_, i) => chosen[(i + round) % chosen.length]).filter((way): way is Way => way !== undefined)
    for (const way of order) {
      const sample = await measure(way, services)
      samples.get(way.id)?.push(sample)
      log(
        `round ${round + 1} ${way.id}: first Status ${fmt(sample.firstStatusMillis, 0)} ms, CPU ${fmt(sample.cpuMillis, 0)} ms, serving RSS ${fmt(sample.servingRssMib, 1)} MiB, launcher RSS ${fmt(sample.launcherRssMib, 1)} MiB, ${sample.processes} process(es)`
      )
    }
  }

  const of = (id: string, pick: (sample: Sample) => number) => spreadOf((samples.get(id) ?? []).map(pick))
  const baseStart = of("image", (s) => s.firstStatusMillis).median
  const baseCpu = of("image", (s) => s.cpuMillis).median
  const baseRss = of("image", (s) => s.servingRssMib).median
  const rows = chosen.map((way) => ({
    id: way.id,
    label: way.label,
    processes: of(way.id, (s) => s.processes).median,
    firstStatusMillis: of(way.id, (s) => s.firstStatusMillis),
    cpuMillis: of(way.id, (s) => s.cpuMillis),
    servingRssMib: of(way.id, (s) => s.servingRssMib),
    launcherRssMib: of(way.id, (s) => s.launcherRssMib)
  }))
  const table = [
    `| way of starting | processes | first Status, ms | ×image | CPU until then, ms | ×image | idle RSS of the server, MiB | ×image | launcher RSS, MiB |`,
    `|---|---:|---:|---:|---:|---:|---:|---:|---:|`,
    ...rows.map(
      (r) =>
        `| ${r.label} | ${r.processes} | ${shown(r.firstStatusMillis, 0)} | ${fmt(r.firstStatusMillis.median / baseStart, 2)}× | ` +
        `${shown(r.cpuMillis, 0)} | ${fmt(r.cpuMillis.median / baseCpu, 2)}× | ` +
        `${shown(r.servingRssMib, 1)} | ${fmt(r.servingRssMib.median / baseRss, 2)}× | ${r.launcherRssMib.max === 0 ? "–" : shown(r.launcherRssMib, 1)} |`
    )
  ].join("\n")
  process.stdout.write(`${table}\n\nmedian (min–max) of ${runs} round(s)\n`)

  fs.mkdirSync(path.dirname(outFile), { recursive: true })
  fs.writeFileSync(
    outFile,
    `${JSON.stringify(
      {
        meta: {
          date: new Date().toISOString(),
          bundleNode: process.version,
          machineNodeMajor: machine?.major,
          cpus: os.cpus().length,
          loadAverageBefore: loadBefore,
          loadAverageAfter: os.loadavg(),
          git: gitDescription(),
          runs
        },
        ways: rows,
        samples: Object.fromEntries(samples)
      },
      null,
      2
    )}\n`
  )
  log(`wrote ${path.relative(process.cwd(), outFile)}`)
  return 0
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    log(`failed: ${error instanceof Error ? error.message : String(error)}`)
    process.exit(1)
  }
)
