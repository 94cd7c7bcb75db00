import * as fs from "node:fs"
import * as path from "node:path"
import {
  type CgroupCounters,
  type CgroupMount,
  countersV1,
  countersV2,
  directoryOf,
  parseMountInfo,
  parseProcCgroup
} from "./cgroupFiles.ts"

// A fresh cgroup with a container's memory and CPU limits (what a pod's
// `resources.limits` become on the node), for one process started inside it
// from its first instruction, and its counters read from the kernel.
//
// cgroup v1 (a hierarchy per controller): a cgroup in the memory hierarchy
// (memory.limit_in_bytes, memory.memsw.limit_in_bytes when swap accounting is
// on, memory.swappiness 0) and one in the cpu hierarchy (cpu.cfs_quota_us /
// cpu.cfs_period_us). cgroup v2: one cgroup with memory.max, memory.swap.max 0
// and cpu.max. Each is made inside this process's own cgroup of that
// hierarchy, so whatever contains this process contains the limited one too.
//
// Needs root (or a delegated cgroup) and both controllers; otherwise
// `createCgroup` throws a CgroupUnavailable that says what is missing: a
// caller that must not pass without limits lets it fail the test.

export class CgroupUnavailable extends Error {
  override readonly name = "CgroupUnavailable"
}

export interface CgroupLimits {
  readonly memoryBytes: number
  /** CPUs of quota per period, like a pod's `limits.cpu` ("1" = one CPU's worth of time). */
  readonly cpus: number
}

export interface Cgroup {
  readonly version: 1 | 2
  /** The directories made (v1: memory and cpu; v2: one). */
  readonly directories: ReadonlyArray<string>
  /**
   * argv that runs `argv` inside the cgroup: a shell writes its own pid to
   * cgroup.procs, then execs the command in place, so the pid the caller
   * gets is the command's own and it is in the cgroup before it allocates.
   */
  readonly wrap: (argv: ReadonlyArray<string>) => ReadonlyArray<string>
  readonly counters: () => CgroupCounters
  /** Pids in the cgroup now. */
  readonly pids: () => ReadonlyArray<number>
  /** Kills what is still inside, waits for it to go, removes the directories. Idempotent. */
  readonly remove: () => Promise<void>
}

const prefix = "k8s-cloudkms-plugin-limits-"
const periodMicros = 100_000

const read = (file: string): string => fs.readFileSync(file, "utf8")
const readIfThere = (file: string): string | undefined => (fs.existsSync(file) ? read(file) : undefined)

const write = (file: string, value: string): void => {
  try {
    fs.writeFileSync(file, value)
  } catch (error) {
    throw new CgroupUnavailable(
      `cannot write ${value.trim()} to ${file}: ${error instanceof Error ? error.message : String(error)}${rootHint()}`
    )
  }
}

const pidsIn = (directory: string): ReadonlyArray<number> =>
  read(path.join(directory, "cgroup.procs"))
    .split("\n")
    .filter((line) => line.trim() !== "")
    .map(Number)

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

// Directories a killed run left behind: empty, made by a process that is gone.
const sweepStale = (parent: string): void => {
  let entries: ReadonlyArray<string>
  try {
    entries = fs.readdirSync(parent)
  } catch {
    return
  }
  for (const entry of entries) {
    const owner = /^k8s-cloudkms-plugin-limits-(\d+)-\d+$/.exec(entry)?.[1]
    if (owner === undefined || alive(Number(owner))) continue
    const directory = path.join(parent, entry)
    try {
      if (pidsIn(directory).length === 0) fs.rmdirSync(directory)
    } catch {
      // Someone else's, or busy: leave it.
    }
  }
}

interface Located {
  readonly mounts: ReadonlyArray<CgroupMount>
  readonly own: ReturnType<typeof parseProcCgroup>
}

const locate = (): Located => {
  if (process.platform !== "linux") throw new CgroupUnavailable(`cgroups are Linux only; this is ${process.platform}`)
  return { mounts: parseMountInfo(read("/proc/self/mountinfo")), own: parseProcCgroup(read("/proc/self/cgroup")) }
}

/** This process's own cgroup directory in the v1 hierarchy of `controller`, if there is one. */
const v1Parent = (where: Located, controller: string): string | undefined => {
  const mount = where.mounts.find((m) => m.version === 1 && m.controllers.includes(controller))
  const line = where.own.find((l) => l.controllers.includes(controller))
  return mount === undefined || line === undefined ? undefined : directoryOf(mount, line.path)
}

let made = 0
const freshName = () => `${prefix}${process.pid}-${made++}`

const rootHint = () =>
  process.getuid?.() === 0
    ? ""
    : ` (this process runs as uid ${process.getuid?.() ?? "?"}: making a cgroup needs root or a delegated cgroup)`

const makeDirectory = (parent: string, name: string): string => {
  sweepStale(parent)
  const directory = path.join(parent, name)
  try {
    fs.mkdirSync(directory)
  } catch (error) {
    throw new CgroupUnavailable(
      `cannot make the cgroup ${directory}: ${error instanceof Error ? error.message : String(error)}${rootHint()}`
    )
  }
  return directory
}

const createV1 = (where: Located, limits: CgroupLimits): Cgroup => {
  const memoryParent = v1Parent(where, "memory")
  const cpuParent = v1Parent(where, "cpu")
  if (memoryParent === undefined || cpuParent === undefined) {
    throw new CgroupUnavailable(`cgroup v1 without the ${memoryParent === undefined ? "memory" : "cpu"} controller mounted`)
  }
  const name = freshName()
  const memory = makeDirectory(memoryParent, name)
  const directories = [memory]
  const group = handle(1, directories, () =>
    countersV1({
      limit: read(path.join(memory, "memory.limit_in_bytes")),
      maxUsage: read(path.join(memory, "memory.max_usage_in_bytes")),
      usage: read(path.join(memory, "memory.usage_in_bytes")),
      failcnt: read(path.join(memory, "memory.failcnt")),
      oomControl: read(path.join(memory, "memory.oom_control")),
      memoryStat: read(path.join(memory, "memory.stat")),
      cpuStat: read(path.join(directories[1] ?? memory, "cpu.stat"))
    })
  )
  try {
    write(path.join(memory, "memory.limit_in_bytes"), `${limits.memoryBytes}\n`)
    // Swap would let the process go past the limit instead of being reclaimed or killed.
    if (fs.existsSync(path.join(memory, "memory.memsw.limit_in_bytes")))
      write(path.join(memory, "memory.memsw.limit_in_bytes"), `${limits.memoryBytes}\n`)
    write(path.join(memory, "memory.swappiness"), "0\n")
    const cpu = makeDirectory(cpuParent, name)
    directories.push(cpu)
    write(path.join(cpu, "cpu.cfs_period_us"), `${periodMicros}\n`)
    write(path.join(cpu, "cpu.cfs_quota_us"), `${Math.round(limits.cpus * periodMicros)}\n`)
    // Fail now, not after the run, if a counter cannot be read.
    group.counters()
    return group
  } catch (error) {
    // Best effort: the error that brought us here is the one to report.
    group.remove().catch(() => {})
    throw error
  }
}

const createV2 = (where: Located, limits: CgroupLimits): Cgroup => {
  const mount = where.mounts.find((m) => m.version === 2)
  const line = where.own.find((l) => l.controllers.length === 0)
  if (mount === undefined || line === undefined)
    throw new CgroupUnavailable("neither cgroup v1 memory+cpu nor a cgroup v2 hierarchy is mounted")
  const available = (directory: string) => (readIfThere(path.join(directory, "cgroup.controllers")) ?? "").trim().split(/\s+/)
  // Our own cgroup first; its controllers can be enabled for children only if
  // it holds no process itself (v2's "no internal processes" rule), so the
  // hierarchy's root (exempt from that rule) comes next.
  const candidates = [directoryOf(mount, line.path), mount.mountPoint]
  const reasons: Array<string> = []
  for (const parent of candidates) {
    if (!["memory", "cpu"].every((c) => available(parent).includes(c))) {
      reasons.push(`${parent}: cgroup.controllers lacks memory or cpu (${available(parent).join(" ") || "none"})`)
      continue
    }
    const enabled = (readIfThere(path.join(parent, "cgroup.subtree_control")) ?? "").trim().split(/\s+/)
    if (!enabled.includes("memory") || !enabled.includes("cpu")) {
      try {
        fs.writeFileSync(path.join(parent, "cgroup.subtree_control"), "+memory +cpu")
      } catch (error) {
        reasons.push(
          `${parent}: cannot enable memory and cpu for children: ${error instanceof Error ? error.message : String(error)}${rootHint()}`
        )
        continue
      }
    }
    const directory = makeDirectory(parent, freshName())
    const group = handle(2, [directory], () =>
      countersV2({
        max: read(path.join(directory, "memory.max")),
        peak: readIfThere(path.join(directory, "memory.peak")),
        current: read(path.join(directory, "memory.current")),
        events: read(path.join(directory, "memory.events")),
        memoryStat: read(path.join(directory, "memory.stat")),
        cpuStat: read(path.join(directory, "cpu.stat"))
      })
    )
    try {
      write(path.join(directory, "memory.max"), `${limits.memoryBytes}\n`)
      if (fs.existsSync(path.join(directory, "memory.swap.max"))) write(path.join(directory, "memory.swap.max"), "0\n")
      write(path.join(directory, "cpu.max"), `${Math.round(limits.cpus * periodMicros)} ${periodMicros}\n`)
      group.counters()
      return group
    } catch (error) {
      // Best effort: the error that brought us here is the one to report.
      group.remove().catch(() => {})
      throw error
    }
  }
  throw new CgroupUnavailable(`cgroup v2: no place for a cgroup with memory and cpu limits:\n  ${reasons.join("\n  ")}`)
}

// Every live cgroup, removed on the way out if the caller could not (best effort: sync, no waiting).
const live = new Set<ReadonlyArray<string>>()
let exitHook = false
const removeNow = (directories: ReadonlyArray<string>) => {
  for (const directory of [...directories].reverse()) {
    try {
      fs.rmdirSync(directory)
    } catch {
      // Still has a process, or already gone; the next run's sweep removes it.
    }
  }
}

const handle = (version: 1 | 2, directories: Array<string>, counters: () => CgroupCounters): Cgroup => {
  const procsFiles = () => directories.map((d) => path.join(d, "cgroup.procs"))
  const pids = () => [...new Set(directories.flatMap((d) => (fs.existsSync(d) ? pidsIn(d) : [])))]
  live.add(directories)
  if (!exitHook) {
    exitHook = true
    process.on("exit", () => {
      for (const group of live) removeNow(group)
    })
  }
  let removed: Promise<void> | undefined
  const remove = () => {
    removed ??= (async () => {
      // The caller stops its process first; anything left is killed. A process
      // leaves cgroup.procs once reaped, a moment after its exit event.
      for (let attempt = 0; attempt < 200 && pids().length > 0; attempt++) {
        for (const pid of pids()) {
          try {
            process.kill(pid, "SIGKILL")
          } catch {
            // Already gone.
          }
        }
        await new Promise((resolve) => setTimeout(resolve, 25))
      }
      removeNow(directories)
      const left = directories.filter((d) => fs.existsSync(d))
      live.delete(directories)
      if (left.length > 0) throw new Error(`could not remove ${left.join(", ")}: still holds ${pids().join(", ")}`)
    })()
    return removed
  }
  return {
    version,
    directories,
    wrap: (argv) => {
      const files = procsFiles()
      // $1 = how many cgroup.procs files follow; then the command.
      const script = 'n=$1; shift; while [ "$n" -gt 0 ]; do echo $$ > "$1" || exit 125; shift; n=$((n-1)); done; exec "$@"'
      return ["/bin/sh", "-c", script, "in-cgroup", String(files.length), ...files, ...argv]
    },
    counters,
    pids,
    remove
  }
}

/**
 * Makes a fresh cgroup with these limits (v1 where this machine has the
 * memory and cpu controllers there, else v2). Throws CgroupUnavailable,
 * saying why, when it cannot.
 */
export const createCgroup = (limits: CgroupLimits): Cgroup => {
  const where = locate()
  const hasV1 = ["memory", "cpu"].every((controller) => v1Parent(where, controller) !== undefined)
  return hasV1 ? createV1(where, limits) : createV2(where, limits)
}

export type { CgroupCounters }
