import { type ChildProcess, spawn } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { projectRoot } from "../support/projectRoot.ts"

// The real plugin entrypoint as a child process (src/main.ts, or the bundle
// dist/main.mjs), with its whole stderr kept for the leak scan. Readiness and
// exit are events; nothing here waits on time.

export const pluginEntry = (built: boolean): string => path.join(projectRoot, built ? "dist/main.mjs" : "src/main.ts")

export interface Exited {
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
}

export interface PluginProcess {
  readonly pid: number
  readonly child: ChildProcess
  /** Everything the plugin wrote to stderr (its log) so far. */
  readonly stderr: () => string
  readonly stdout: () => string
  /** Resolves with the first stderr line matching; rejects if the plugin exits first. */
  readonly waitForLine: (match: RegExp) => Promise<string>
  readonly exited: Promise<Exited>
  readonly alive: () => boolean
  /** SIGTERM, then the exit; SIGKILL if it is still running after `graceMillis`. */
  readonly stop: (graceMillis: number) => Promise<Exited>
}

// Any way out of the driver (an error, process.exit on a signal) kills the plugin too.
const live = new Set<ChildProcess>()
let exitHook = false
const killLive = () => {
  for (const child of live) child.kill("SIGKILL")
}

export const spawnPlugin = (
  args: ReadonlyArray<string>,
  options: {
    readonly built: boolean
    readonly nodeArgs?: ReadonlyArray<string>
    /** Another entry than src/main.ts or dist/main.mjs (e.g. a bundle built elsewhere). */
    readonly entry?: string
    /** Runs the command through another (e.g. into a cgroup); the wrapper must exec it in place, keeping the pid. */
    readonly wrap?: (argv: ReadonlyArray<string>) => ReadonlyArray<string>
  }
): PluginProcess => {
  const entry = options.entry ?? pluginEntry(options.built)
  if (!fs.existsSync(entry)) throw new Error(`${entry} does not exist${options.built ? ": run npm run build first" : ""}`)
  const argv = [process.execPath, ...(options.nodeArgs ?? []), entry, ...args]
  const [command = process.execPath, ...rest] = options.wrap === undefined ? argv : options.wrap(argv)
  const child = spawn(command, rest, {
    cwd: projectRoot,
    // No metadata server may be probed, whatever a library tries.
    env: { ...process.env, METADATA_SERVER_DETECTION: "none", GCE_METADATA_HOST: "127.0.0.1:9" },
    stdio: ["ignore", "pipe", "pipe"]
  })
  if (child.pid === undefined) throw new Error(`cannot spawn ${entry}`)
  live.add(child)
  child.once("exit", () => live.delete(child))
  if (!exitHook) {
    exitHook = true
    process.on("exit", killLive)
  }
  const pid = child.pid
  const errChunks: Array<string> = []
  let out = ""
  let pendingLine = ""
  const waiters: Array<{ readonly match: RegExp; readonly resolve: (line: string) => void }> = []
  const seenLines: Array<string> = []
  child.stdout?.setEncoding("utf8").on("data", (chunk: string) => {
    out += chunk
  })
  child.stderr?.setEncoding("utf8").on("data", (chunk: string) => {
    errChunks.push(chunk)
    const lines = (pendingLine + chunk).split("\n")
    pendingLine = lines.pop() ?? ""
    for (const line of lines) {
      // Lines until readiness, for waiters that come late; the log itself is in errChunks.
      if (seenLines.length < 200) seenLines.push(line)
      for (let i = waiters.length - 1; i >= 0; i--) {
        const waiter = waiters[i]
        if (waiter?.match.test(line)) {
          waiters.splice(i, 1)
          waiter.resolve(line)
        }
      }
    }
  })
  const exited = new Promise<Exited>((resolve) => child.once("exit", (code, signal) => resolve({ code, signal })))
  const alive = () => child.exitCode === null && child.signalCode === null
  const stderr = () => errChunks.join("")
  const waitForLine = (match: RegExp) => {
    const already = seenLines.find((line) => match.test(line))
    if (already !== undefined) return Promise.resolve(already)
    return new Promise<string>((resolve, reject) => {
      waiters.push({ match, resolve })
      void exited.then((e) => reject(new Error(`plugin exited (${e.code ?? e.signal}) before logging ${match}:\n${stderr().slice(-4000)}`)))
    })
  }
  const stop = async (graceMillis: number) => {
    if (alive()) {
      child.kill("SIGTERM")
      const killer = setTimeout(() => child.kill("SIGKILL"), graceMillis)
      const result = await exited
      clearTimeout(killer)
      return result
    }
    return exited
  }
  return { pid, child, stderr, stdout: () => out, waitForLine, exited, alive, stop }
}
