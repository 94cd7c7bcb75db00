import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"

// The machine's own `node`, as a user's shell finds it: PATH without the
// node_modules/.bin folders that npm scripts (and so vitest and the bench)
// put first, where the project's pinned Node 24 is.

export const machinePath = (pathVariable: string = process.env["PATH"] ?? ""): string =>
  pathVariable.split(path.delimiter).filter((dir) => dir !== "" && !dir.split(path.sep).includes("node_modules")).join(path.delimiter)

/** The machine's node and its major version, or undefined if it has none. */
export const machineNode = (): { readonly path: string; readonly major: number } | undefined => {
  for (const dir of machinePath().split(path.delimiter)) {
    const candidate = path.join(dir, "node")
    if (!fs.existsSync(candidate)) continue
    const version = execFileSync(candidate, ["-p", "process.versions.node"], { encoding: "utf8" }).trim()
    return { path: candidate, major: Number(version.split(".")[0]) }
  }
  return undefined
}

/** Pids of the process tree under `pid` (itself first, then children, depth first), from /proc. */
export const processTree = (pid: number): ReadonlyArray<number> => {
  const childrenOf = new Map<number, Array<number>>()
  for (const entry of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue
    let stat: string
    try {
      stat = fs.readFileSync(`/proc/${entry}/stat`, "utf8")
    } catch {
      continue // exited while we looked
    }
    // Field 4 (ppid) comes after the command name, which may hold spaces and parens.
    const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1])
    childrenOf.set(ppid, [...(childrenOf.get(ppid) ?? []), Number(entry)])
  }
  const walk = (p: number): Array<number> => [p, ...(childrenOf.get(p) ?? []).flatMap(walk)]
  return walk(pid)
}

/** Pids of live processes whose command line contains `text`. */
export const processesWith = (text: string): ReadonlyArray<number> =>
  fs.readdirSync("/proc").filter((entry) => /^\d+$/.test(entry)).filter((entry) => {
    try {
      return fs.readFileSync(`/proc/${entry}/cmdline`, "utf8").includes(text)
    } catch {
      return false
    }
  }).map(Number)
