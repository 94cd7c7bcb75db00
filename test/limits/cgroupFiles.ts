// What the kernel's files say about cgroups, as pure functions of their text
// (tested on fixtures of both versions in cgroup.test.ts): where each
// hierarchy is mounted, which cgroup a process is in, and the counters.

export interface CgroupMount {
  readonly version: 1 | 2
  /** Where it is mounted, e.g. /sys/fs/cgroup/memory. */
  readonly mountPoint: string
  /** The cgroup seen as this mount's root (not "/" inside a cgroup namespace or a bind mount). */
  readonly root: string
  /** v1: the controllers of this hierarchy (from the super options); v2: empty (read cgroup.controllers). */
  readonly controllers: ReadonlyArray<string>
}

const v1Controllers = new Set([
  "blkio",
  "cpu",
  "cpuacct",
  "cpuset",
  "devices",
  "freezer",
  "hugetlb",
  "memory",
  "misc",
  "net_cls",
  "net_prio",
  "perf_event",
  "pids",
  "rdma"
])

const unescapeMountField = (field: string): string =>
  field.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8)))

/** The cgroup mounts in /proc/self/mountinfo. */
export const parseMountInfo = (text: string): ReadonlyArray<CgroupMount> =>
  text.split("\n").flatMap((line): ReadonlyArray<CgroupMount> => {
    const separator = line.indexOf(" - ")
    if (separator < 0) return []
    const fields = line.slice(0, separator).split(" ")
    const [fsType = "", , superOptions = ""] = line.slice(separator + 3).split(" ")
    const root = fields[3]
    const mountPoint = fields[4]
    if (root === undefined || mountPoint === undefined) return []
    if (fsType === "cgroup2")
      return [{ version: 2, mountPoint: unescapeMountField(mountPoint), root: unescapeMountField(root), controllers: [] }]
    if (fsType !== "cgroup") return []
    // Super options: rw,memory or rw,cpu,cpuacct or rw,name=systemd (no controller), maybe with mount flags among them.
    const controllers = superOptions.split(",").filter((option) => v1Controllers.has(option))
    return [{ version: 1, mountPoint: unescapeMountField(mountPoint), root: unescapeMountField(root), controllers }]
  })

export interface ProcCgroupLine {
  /** Empty for the v2 line ("0::/path"). */
  readonly controllers: ReadonlyArray<string>
  readonly path: string
}

/** /proc/<pid>/cgroup: one line per hierarchy, "id:controllers:path". */
export const parseProcCgroup = (text: string): ReadonlyArray<ProcCgroupLine> =>
  text.split("\n").flatMap((line) => {
    const match = /^(\d+):([^:]*):(.*)$/.exec(line.trim())
    if (match === null) return []
    const [, , list = "", cgroupPath = "/"] = match
    return [{ controllers: list === "" ? [] : list.split(","), path: cgroupPath }]
  })

/** The directory of a cgroup path under a mount (the path is relative to the mount's root). */
export const directoryOf = (mount: CgroupMount, cgroupPath: string): string => {
  const relative =
    mount.root !== "/" && (cgroupPath === mount.root || cgroupPath.startsWith(`${mount.root}/`))
      ? cgroupPath.slice(mount.root.length)
      : cgroupPath
  const joined = `${mount.mountPoint}/${relative}`.replace(/\/+/g, "/")
  return joined.length > 1 && joined.endsWith("/") ? joined.slice(0, -1) : joined
}

/** "key value" lines (memory.stat, memory.events, memory.oom_control, cpu.stat). */
export const parseKeyValues = (text: string): Readonly<Record<string, number>> => {
  const out: Record<string, number> = {}
  for (const line of text.split("\n")) {
    const match = /^(\S+)\s+(-?\d+)$/.exec(line.trim())
    if (match?.[1] !== undefined && match[2] !== undefined) out[match[1]] = Number(match[2])
  }
  return out
}

/** A single number, or v2's "max" (no limit): Infinity. */
export const parseLimit = (text: string): number => {
  const trimmed = text.trim()
  if (trimmed === "max") return Number.POSITIVE_INFINITY
  const value = Number(trimmed)
  if (trimmed === "" || !Number.isFinite(value)) throw new Error(`not a cgroup number: ${JSON.stringify(text)}`)
  return value
}

/** What a cgroup's counters say, in one shape for both versions. */
export interface CgroupCounters {
  readonly version: 1 | 2
  readonly memoryLimitBytes: number
  /** Highest memory charged to the cgroup since it was made (v1 memory.max_usage_in_bytes, v2 memory.peak): anon + page cache + kernel. */
  readonly memoryPeakBytes: number
  readonly memoryNowBytes: number
  /** Anonymous memory (the process's heap and buffers) and page cache now, from memory.stat. */
  readonly anonBytes: number
  readonly fileBytes: number
  /** Times the usage hit the limit and the kernel had to reclaim (v1 memory.failcnt, v2 memory.events max). */
  readonly limitHits: number
  /** Processes the OOM killer killed in this cgroup (v1 memory.oom_control oom_kill, v2 memory.events oom_kill). */
  readonly oomKills: number
  /** cpu.stat: scheduler periods, those in which the quota ran out, and the time spent throttled. */
  readonly cpuPeriods: number
  readonly cpuThrottledPeriods: number
  readonly cpuThrottledMillis: number
}

export interface V1CounterFiles {
  readonly limit: string
  readonly maxUsage: string
  readonly usage: string
  readonly failcnt: string
  readonly oomControl: string
  readonly memoryStat: string
  readonly cpuStat: string
}

export const countersV1 = (files: V1CounterFiles): CgroupCounters => {
  const oom = parseKeyValues(files.oomControl)
  const stat = parseKeyValues(files.memoryStat)
  const cpu = parseKeyValues(files.cpuStat)
  if (oom["oom_kill"] === undefined) throw new Error("memory.oom_control has no oom_kill counter (kernel older than 4.13)")
  return {
    version: 1,
    memoryLimitBytes: parseLimit(files.limit),
    memoryPeakBytes: parseLimit(files.maxUsage),
    memoryNowBytes: parseLimit(files.usage),
    anonBytes: stat["total_rss"] ?? stat["rss"] ?? Number.NaN,
    fileBytes: stat["total_cache"] ?? stat["cache"] ?? Number.NaN,
    limitHits: parseLimit(files.failcnt),
    oomKills: oom["oom_kill"],
    cpuPeriods: cpu["nr_periods"] ?? Number.NaN,
    cpuThrottledPeriods: cpu["nr_throttled"] ?? Number.NaN,
    // v1 counts nanoseconds.
    cpuThrottledMillis: (cpu["throttled_time"] ?? Number.NaN) / 1e6
  }
}

export interface V2CounterFiles {
  readonly max: string
  /** memory.peak: absent before Linux 5.19. */
  readonly peak: string | undefined
  readonly current: string
  readonly events: string
  readonly memoryStat: string
  readonly cpuStat: string
}

export const countersV2 = (files: V2CounterFiles): CgroupCounters => {
  const events = parseKeyValues(files.events)
  const stat = parseKeyValues(files.memoryStat)
  const cpu = parseKeyValues(files.cpuStat)
  if (events["oom_kill"] === undefined) throw new Error("memory.events has no oom_kill counter")
  return {
    version: 2,
    memoryLimitBytes: parseLimit(files.max),
    memoryPeakBytes: files.peak === undefined ? Number.NaN : parseLimit(files.peak),
    memoryNowBytes: parseLimit(files.current),
    anonBytes: stat["anon"] ?? Number.NaN,
    fileBytes: stat["file"] ?? Number.NaN,
    limitHits: events["max"] ?? 0,
    oomKills: events["oom_kill"],
    cpuPeriods: cpu["nr_periods"] ?? Number.NaN,
    cpuThrottledPeriods: cpu["nr_throttled"] ?? Number.NaN,
    // v2 counts microseconds.
    cpuThrottledMillis: (cpu["throttled_usec"] ?? Number.NaN) / 1e3
  }
}
