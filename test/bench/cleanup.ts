import type { ChildProcess } from "node:child_process"
import * as fs from "node:fs"

// Everything the bench starts or creates is registered here, so that any way
// out (normal end, thrown error, SIGINT/SIGTERM) kills the children and
// removes the temp dirs. The exit hook is synchronous: it runs even on
// process.exit().

const children = new Set<ChildProcess>()
const dirs = new Set<string>()

const alive = (child: ChildProcess) => child.exitCode === null && child.signalCode === null

export const trackChild = (child: ChildProcess): ChildProcess => {
  children.add(child)
  child.once("exit", () => children.delete(child))
  return child
}

export const trackDir = (dir: string): string => {
  dirs.add(dir)
  return dir
}

export const removeDir = (dir: string): void => {
  fs.rmSync(dir, { recursive: true, force: true })
  dirs.delete(dir)
}

const cleanUpNow = () => {
  for (const child of children) if (alive(child)) child.kill("SIGKILL")
  for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true })
  dirs.clear()
}

let installed = false

/** Installs the exit and signal hooks once. */
export const installCleanup = (): void => {
  if (installed) return
  installed = true
  process.on("exit", cleanUpNow)
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
    process.once(signal, () => {
      process.stderr.write(`\nbench: ${signal}, stopping children and removing temp files\n`)
      // 128 + signal number, as a shell would report it.
      process.exit(signal === "SIGINT" ? 130 : signal === "SIGTERM" ? 143 : 129)
    })
  }
}
