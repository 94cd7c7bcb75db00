import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import { parseMaxOpenFiles, parseStatus } from "../../src/observability/ProcFs.ts"

// What the kernel says about other processes (the plugin under test, a
// benchmark server): CPU time (all threads, so the libuv pool's crypto and GC
// threads count too), memory, and which processes there are. Linux only.
// VmRSS is read with the plugin's own /proc/self/status parser
// (src/observability/ProcFs.ts).

let ticksPerSecond: number | undefined

// utime/stime are in clock ticks (USER_HZ, almost always 100).
const clockTicks = (): number => {
  if (ticksPerSecond === undefined) {
    let parsed = Number.NaN
    try {
      parsed = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim())
    } catch {
      // getconf missing: fall back to the Linux default.
    }
    ticksPerSecond = Number.isInteger(parsed) && parsed > 0 ? parsed : 100
  }
  return ticksPerSecond
}

/** The fields of /proc/<pid>/stat after the command name: [0] is field 3 (state), [1] the parent's pid. */
const statFields = (pid: number | string): ReadonlyArray<string> => {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8")
  // The command name (field 2) may hold spaces and parens: split after its last ')'.
  return stat.slice(stat.lastIndexOf(")") + 2).split(" ")
}

/** utime + stime of the process, in microseconds. */
export const cpuMicros = (pid: number): number => {
  const fields = statFields(pid)
  // utime and stime are fields 14 and 15.
  const utime = Number(fields[11])
  const stime = Number(fields[12])
  if (!Number.isFinite(utime) || !Number.isFinite(stime)) throw new Error(`cannot parse /proc/${pid}/stat`)
  return ((utime + stime) * 1_000_000) / clockTicks()
}

const status = (pid: number): string => fs.readFileSync(`/proc/${pid}/status`, "utf8")

/** Resident set size now, in bytes. */
export const residentBytes = (pid: number): number => {
  const bytes = parseStatus(status(pid)).residentBytes
  if (bytes === undefined) throw new Error(`no VmRSS in /proc/${pid}/status`)
  return bytes
}

/** Peak resident set size over the process's life (VmHWM), in bytes. */
export const peakResidentBytes = (pid: number): number => {
  const match = /^VmHWM:\s+(\d+) kB$/m.exec(status(pid))
  if (match?.[1] === undefined) throw new Error(`no VmHWM in /proc/${pid}/status`)
  return Number(match[1]) * 1024
}

/** Resident set size now, in KiB. */
export const rssKiB = (pid: number): number => residentBytes(pid) / 1024

/** Resident set size now, in MiB. */
export const rssMib = (pid: number): number => residentBytes(pid) / (1024 * 1024)

/** Peak resident set size over the process's life, in MiB. */
export const peakRssMib = (pid: number): number => peakResidentBytes(pid) / (1024 * 1024)

/** Samples VmRSS every intervalMillis until stopped; returns the highest seen, in MiB. */
export const sampleRss = (pid: number, intervalMillis: number): { readonly stop: () => number } => {
  let peak = rssMib(pid)
  const timer = setInterval(() => {
    try {
      peak = Math.max(peak, rssMib(pid))
    } catch {
      // The process went away; the run will report that on its own.
    }
  }, intervalMillis)
  return {
    stop: () => {
      clearInterval(timer)
      return peak
    }
  }
}

const pids = (): ReadonlyArray<string> => fs.readdirSync("/proc").filter((entry) => /^\d+$/.test(entry))

/** Pids of the process tree under `pid` (itself first, then children, depth first). */
export const processTree = (pid: number): ReadonlyArray<number> => {
  const childrenOf = new Map<number, Array<number>>()
  for (const entry of pids()) {
    let ppid: number
    try {
      ppid = Number(statFields(entry)[1])
    } catch {
      continue // exited while we looked
    }
    childrenOf.set(ppid, [...(childrenOf.get(ppid) ?? []), Number(entry)])
  }
  const walk = (p: number): Array<number> => [p, ...(childrenOf.get(p) ?? []).flatMap(walk)]
  return walk(pid)
}

/** Pids of live processes whose command line contains `text`. */
export const processesWith = (text: string): ReadonlyArray<number> =>
  pids()
    .filter((entry) => {
      try {
        return fs.readFileSync(`/proc/${entry}/cmdline`, "utf8").includes(text)
      } catch {
        return false
      }
    })
    .map(Number)

/** How many file descriptors the process holds open. */
export const openFds = (pid: number | "self"): number => fs.readdirSync(`/proc/${pid}/fd`).length

/** The process's soft limit on open files (unlimited: the largest safe integer). */
export const openFilesLimit = (pid: number | "self"): number =>
  parseMaxOpenFiles(fs.readFileSync(`/proc/${pid}/limits`, "utf8")) ?? Number.MAX_SAFE_INTEGER
