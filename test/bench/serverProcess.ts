import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { removeDir, trackChild, trackDir } from "./cleanup.ts"
import { makeKmsClient } from "./kmsClient.ts"
import type { BenchServices } from "./protos.ts"
import { targetOf } from "./protos.ts"

// Starts a server under test (plugin or floor) as its own process on a fresh
// socket in a fresh temp dir, and tells when it first answers a Status.

export interface ServerCommand {
  /** argv[0] and its leading args; the socket flags are appended by `argsFor`. */
  readonly command: ReadonlyArray<string>
  readonly argsFor: (socketPath: string) => ReadonlyArray<string>
}

export interface RunningServer {
  readonly pid: number
  readonly target: string
  /** From spawn() to the first Status answered, in ms. */
  readonly startMillis: number
  readonly stderr: () => string
  readonly stop: () => Promise<void>
}

const sleep = (millis: number) => new Promise<void>((resolve) => setTimeout(resolve, millis))

export const startServer = async (
  server: ServerCommand,
  services: BenchServices,
  options: { readonly cwd: string; readonly readyAttempts: number; readonly retryMillis: number },
  env: Readonly<Record<string, string>> = {}
): Promise<RunningServer> => {
  const dir = trackDir(fs.mkdtempSync(path.join(os.tmpdir(), "kms-bench-")))
  const socketPath = path.join(dir, "kms.sock")
  const [command, ...leading] = server.command
  if (command === undefined) throw new Error("empty server command")
  const spawnedAt = performance.now()
  const child = trackChild(
    spawn(command, [...leading, ...server.argsFor(socketPath)], {
      cwd: options.cwd,
      env: { ...process.env, ...env },
      stdio: ["ignore", "ignore", "pipe"]
    })
  )
  let stderr = ""
  child.stderr?.on("data", (chunk: Buffer) => {
    // Keep the tail only: enough to explain a failure.
    stderr = (stderr + chunk.toString()).slice(-8192)
  })
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()))
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill("SIGTERM")
      // A server that ignores SIGTERM is killed; either way we wait for the exit.
      const killer = setTimeout(() => child.kill("SIGKILL"), 5000)
      await exited
      clearTimeout(killer)
    }
    removeDir(dir)
  }
  if (child.pid === undefined) {
    await stop()
    throw new Error(`cannot spawn ${server.command.join(" ")}`)
  }
  const pid = child.pid
  const target = targetOf(socketPath)

  // Poll until the first Status answers: a new client per attempt, so no
  // reconnect backoff of an earlier failed attempt delays the next one.
  for (let attempt = 1; attempt <= options.readyAttempts; attempt++) {
    if (child.exitCode !== null || child.signalCode !== null) {
      await stop()
      throw new Error(`server exited before serving (${child.exitCode ?? child.signalCode}):\n${stderr}`)
    }
    if (fs.existsSync(socketPath)) {
      const client = makeKmsClient(target, services, { channels: 1, deadlineMillis: 1000 })
      try {
        await client.v2Status()
        return { pid, target, startMillis: performance.now() - spawnedAt, stderr: () => stderr, stop }
      } catch {
        // Bound but not answering yet: try again.
      } finally {
        client.close()
      }
    }
    await sleep(options.retryMillis)
  }
  await stop()
  throw new Error(`server did not answer Status after ${options.readyAttempts} attempts:\n${stderr}`)
}
