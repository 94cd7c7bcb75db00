import { type ChildProcess, spawn } from "node:child_process"

// A child process whose output and exit the tests wait on (never on time).

export interface Exited {
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
}

export interface Running {
  readonly child: ChildProcess
  readonly stdout: () => string
  readonly stderr: () => string
  /** The first stderr line matching; rejects if the process exits first. */
  readonly waitForLine: (match: RegExp) => Promise<string>
  readonly exited: Promise<Exited>
}

export const run = (
  command: string,
  args: ReadonlyArray<string>,
  options: {
    readonly cwd: string
    readonly env?: Readonly<Record<string, string | undefined>>
    /** In a process group of its own, as a shell starts a job: `process.kill(-pid, signal)` reaches the whole group. */
    readonly detached?: boolean
  }
): Running => {
  const child = spawn(command, args, {
    cwd: options.cwd,
    env: { ...process.env, ...options.env },
    stdio: ["ignore", "pipe", "pipe"],
    detached: options.detached ?? false
  })
  let out = ""
  let err = ""
  const waiters: Array<{ readonly match: RegExp; readonly resolve: (line: string) => void }> = []
  const firstLine = (match: RegExp) => err.split("\n").find((line) => match.test(line))
  child.stdout?.on("data", (chunk: Buffer) => {
    out += chunk.toString()
  })
  child.stderr?.on("data", (chunk: Buffer) => {
    err += chunk.toString()
    for (const waiter of waiters.splice(0)) {
      const line = firstLine(waiter.match)
      if (line === undefined) waiters.push(waiter)
      else waiter.resolve(line)
    }
  })
  const exited = new Promise<Exited>((resolve, reject) => {
    child.once("error", reject)
    child.once("close", (code, signal) => resolve({ code, signal }))
  })
  const waitForLine = (match: RegExp): Promise<string> => {
    const already = firstLine(match)
    if (already !== undefined) return Promise.resolve(already)
    return new Promise((resolve, reject) => {
      waiters.push({ match, resolve })
      exited.then((e) => reject(new Error(`${command} exited (${e.code ?? e.signal}) before logging ${match}:\n${err}`)), reject)
    })
  }
  return { child, stdout: () => out, stderr: () => err, waitForLine, exited }
}

/** Runs to completion. */
export const runToEnd = async (
  command: string,
  args: ReadonlyArray<string>,
  options: { readonly cwd: string; readonly env?: Readonly<Record<string, string | undefined>> }
): Promise<{ readonly code: number | null; readonly stdout: string; readonly stderr: string }> => {
  const running = run(command, args, options)
  const exit = await running.exited
  return { code: exit.code, stdout: running.stdout(), stderr: running.stderr() }
}

/** Stops a process that is still running (test clean-up after a failure). */
export const kill = async (running: Running): Promise<void> => {
  if (running.child.exitCode === null && running.child.signalCode === null) running.child.kill("SIGKILL")
  await running.exited.catch(() => undefined)
}
