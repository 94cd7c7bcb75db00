import { type ChildProcess, spawn } from "node:child_process"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import * as Effect from "effect/Effect"

// The real entrypoint as a child process: what the image runs. Waits on its
// log lines and its exit, never on time.

export const projectRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..")
export const mainScript = path.join(projectRoot, "src/main.ts")

export interface Exited {
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
}

export interface SpawnedPlugin {
  readonly child: ChildProcess
  readonly stdout: () => string
  readonly stderr: () => string
  /** Resolves with the first stderr line matching, fails if the process exits first. */
  readonly waitForLine: (match: RegExp) => Promise<string>
  readonly exited: Promise<Exited>
}

export const spawnCli = (
  args: ReadonlyArray<string>,
  env: Record<string, string> = {},
  cwd: string = projectRoot
): SpawnedPlugin => {
  const child = spawn(process.execPath, [mainScript, ...args], {
    cwd,
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"]
  })
  let out = ""
  let err = ""
  const waiters: Array<{ match: RegExp; resolve: (line: string) => void }> = []
  child.stdout?.on("data", (chunk: Buffer) => {
    out += chunk.toString()
  })
  const firstLine = (match: RegExp) => err.split("\n").find((line) => match.test(line))
  child.stderr?.on("data", (chunk: Buffer) => {
    err += chunk.toString()
    for (const waiter of waiters.splice(0)) {
      const line = firstLine(waiter.match)
      if (line === undefined) waiters.push(waiter)
      else waiter.resolve(line)
    }
  })
  const exited = new Promise<Exited>((resolve) => child.once("exit", (code, signal) => resolve({ code, signal })))
  const waitForLine = (match: RegExp) => {
    const already = firstLine(match)
    if (already !== undefined) return Promise.resolve(already)
    return new Promise<string>((resolve, reject) => {
      waiters.push({ match, resolve })
      void exited.then((e) => reject(new Error(`plugin exited (${e.code ?? e.signal}) before logging ${match}:\n${err}`)))
    })
  }
  return { child, stdout: () => out, stderr: () => err, waitForLine, exited }
}

/** The plugin, started and serving; killed (if still running) with the scope. */
export const spawnPlugin = (args: ReadonlyArray<string>, env: Record<string, string> = {}) =>
  Effect.acquireRelease(
    Effect.promise(async () => {
      // The fake backend and a free health port, unless the test says otherwise.
      const defaults = [["--kms-backend", "fake"], ["--healthz-port", "0"]].filter(([flag]) => !args.includes(flag ?? ""))
      const plugin = spawnCli([...defaults.flat(), ...args], env)
      await plugin.waitForLine(/serving KMS/)
      return plugin
    }),
    (plugin) => Effect.promise(async () => {
      if (plugin.child.exitCode === null && plugin.child.signalCode === null) plugin.child.kill("SIGKILL")
      await plugin.exited
    })
  )
