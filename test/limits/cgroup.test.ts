import { spawn } from "node:child_process"
import * as fs from "node:fs"
import { assert, describe, it } from "@effect/vitest"
import * as fc from "fast-check"
import { createCgroup } from "./cgroup.ts"
import { countersV1, countersV2, directoryOf, parseKeyValues, parseLimit, parseMountInfo, parseProcCgroup } from "./cgroupFiles.ts"

// The cgroup module: its reading of the kernel's files on fixtures of both
// versions (this machine has one), then a real cgroup: a process started in
// it is limited and counted. Without root or the controllers the real tests
// fail with the reason; they never pass without a cgroup.

const hybridMountInfo = [
  "30 22 0:27 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755",
  "31 30 0:28 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu",
  "32 30 0:29 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct",
  "34 30 0:31 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory",
  "39 30 0:36 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd",
  "40 30 0:37 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw"
].join("\n")

const v2MountInfo = [
  "22 1 259:1 / / rw,relatime shared:1 - ext4 /dev/root rw",
  "35 24 0:30 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:9 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot"
].join("\n")

describe("reading the kernel's cgroup files", () => {
  it("finds each v1 hierarchy's controllers and the v2 mount (hybrid layout)", () => {
    const mounts = parseMountInfo(hybridMountInfo)
    assert.deepStrictEqual(
      mounts.map((m) => [m.version, m.mountPoint, m.controllers.join(",")]),
      [
        [1, "/sys/fs/cgroup/cpu", "cpu"],
        [1, "/sys/fs/cgroup/cpuacct", "cpuacct"],
        [1, "/sys/fs/cgroup/memory", "memory"],
        [1, "/sys/fs/cgroup/systemd", ""],
        [2, "/sys/fs/cgroup/unified", ""]
      ]
    )
  })

  it("reads combined v1 controllers (cpu,cpuacct) and a pure v2 layout", () => {
    const combined = parseMountInfo("31 30 0:28 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid - cgroup cgroup rw,nosuid,cpu,cpuacct")
    assert.deepStrictEqual(combined[0]?.controllers, ["cpu", "cpuacct"])
    assert.strictEqual(combined[0]?.mountPoint, "/sys/fs/cgroup/cpu,cpuacct")
    const v2 = parseMountInfo(v2MountInfo)
    assert.deepStrictEqual(v2, [{ version: 2, mountPoint: "/sys/fs/cgroup", root: "/", controllers: [] }])
  })

  it("places a process's cgroup path under its mount, also when the mount's root is not /", () => {
    const lines = parseProcCgroup("4:memory:/process_api/abc\n1:cpu:/\n0::/user.slice/session-1.scope\n")
    assert.deepStrictEqual(lines, [
      { controllers: ["memory"], path: "/process_api/abc" },
      { controllers: ["cpu"], path: "/" },
      { controllers: [], path: "/user.slice/session-1.scope" }
    ])
    const memory = { version: 1 as const, mountPoint: "/sys/fs/cgroup/memory", root: "/", controllers: ["memory"] }
    assert.strictEqual(directoryOf(memory, "/process_api/abc"), "/sys/fs/cgroup/memory/process_api/abc")
    assert.strictEqual(directoryOf(memory, "/"), "/sys/fs/cgroup/memory")
    // A container that sees only its own subtree mounted: /docker/x is the mount's root.
    const inContainer = { version: 2 as const, mountPoint: "/sys/fs/cgroup", root: "/docker/x", controllers: [] }
    assert.strictEqual(directoryOf(inContainer, "/docker/x/app"), "/sys/fs/cgroup/app")
    assert.strictEqual(directoryOf(inContainer, "/docker/x"), "/sys/fs/cgroup")
  })

  it("directoryOf(mount, root + path) is the mount point + path, for any path (P)", () => {
    const segment = fc.stringMatching(/^[a-z0-9._-]{1,12}$/)
    fc.assert(
      fc.property(fc.array(segment, { maxLength: 3 }), fc.array(segment, { maxLength: 4 }), (rootParts, parts) => {
        const root = `/${rootParts.join("/")}`
        const mount = { version: 2 as const, mountPoint: "/sys/fs/cgroup", root, controllers: [] }
        const cgroupPath = `${root === "/" ? "" : root}/${parts.join("/")}`
        const expected = parts.length === 0 ? "/sys/fs/cgroup" : `/sys/fs/cgroup/${parts.join("/")}`
        assert.strictEqual(directoryOf(mount, cgroupPath), expected)
      })
    )
  })

  it("reads v1 counters: peak, OOM kills, throttling", () => {
    const counters = countersV1({
      limit: "268435456\n",
      maxUsage: "120586240\n",
      usage: "1482752\n",
      failcnt: "3\n",
      oomControl: "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n",
      memoryStat: "cache 4096\nrss 8192\ntotal_cache 4096\ntotal_rss 81920\n",
      cpuStat: "nr_periods 318\nnr_throttled 2\nthrottled_time 24390950\nnr_bursts 0\n"
    })
    assert.deepStrictEqual(counters, {
      version: 1,
      memoryLimitBytes: 268435456,
      memoryPeakBytes: 120586240,
      memoryNowBytes: 1482752,
      anonBytes: 81920,
      fileBytes: 4096,
      limitHits: 3,
      oomKills: 2,
      cpuPeriods: 318,
      cpuThrottledPeriods: 2,
      cpuThrottledMillis: 24.39095
    })
  })

  it("reads v2 counters, and refuses files without an OOM-kill counter", () => {
    const counters = countersV2({
      max: "268435456\n",
      peak: "99999744\n",
      current: "4096\n",
      events: "low 0\nhigh 0\nmax 7\noom 1\noom_kill 1\noom_group_kill 0\n",
      memoryStat: "anon 1048576\nfile 2097152\nkernel 0\n",
      cpuStat: "usage_usec 10\nuser_usec 5\nsystem_usec 5\nnr_periods 10\nnr_throttled 4\nthrottled_usec 1500\n"
    })
    assert.deepStrictEqual(counters, {
      version: 2,
      memoryLimitBytes: 268435456,
      memoryPeakBytes: 99999744,
      memoryNowBytes: 4096,
      anonBytes: 1048576,
      fileBytes: 2097152,
      limitHits: 7,
      oomKills: 1,
      cpuPeriods: 10,
      cpuThrottledPeriods: 4,
      cpuThrottledMillis: 1.5
    })
    assert.isTrue(
      Number.isNaN(
        countersV2({ max: "max\n", peak: undefined, current: "0", events: "oom_kill 0", memoryStat: "", cpuStat: "" }).memoryPeakBytes
      )
    )
    assert.strictEqual(parseLimit("max\n"), Number.POSITIVE_INFINITY)
    assert.throws(() => countersV2({ max: "1", peak: "1", current: "0", events: "oom 0\n", memoryStat: "", cpuStat: "" }), /oom_kill/)
    assert.throws(
      () => countersV1({ limit: "1", maxUsage: "1", usage: "0", failcnt: "0", oomControl: "under_oom 0\n", memoryStat: "", cpuStat: "" }),
      /oom_kill/
    )
    assert.throws(() => parseLimit(""), /not a cgroup number/)
    assert.deepStrictEqual(parseKeyValues("a 1\n\nb -2\nnot a pair\n"), { a: 1, b: -2 })
  })
})

/** Runs `script` with this Node inside the cgroup; resolves with how it ended and what it printed. */
const runInside = (wrap: (argv: ReadonlyArray<string>) => ReadonlyArray<string>, script: string) =>
  new Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string }>((resolve) => {
    const [command = "", ...args] = wrap([process.execPath, "-e", script])
    const child = spawn(command, args, { stdio: ["ignore", "pipe", "inherit"] })
    let stdout = ""
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()))
    child.once("exit", (code, signal) => resolve({ code, signal, stdout }))
  })

describe("a real cgroup (needs root and the memory and cpu controllers)", () => {
  const mib = 2 ** 20

  it("puts the process inside before it runs, limits and counts its memory, and is removed after", async () => {
    const cgroup = createCgroup({ memoryBytes: 96 * mib, cpus: 1 })
    try {
      // 40 MiB touched, well under the limit; the process reports its own cgroup.
      const under = await runInside(
        cgroup.wrap,
        "const b = Buffer.alloc(40 * 2 ** 20, 1); process.stdout.write(require('fs').readFileSync('/proc/self/cgroup', 'utf8') + b[7])"
      )
      assert.deepStrictEqual([under.code, under.signal], [0, null])
      assert.include(under.stdout, cgroup.directories[0]?.split("/").at(-1) ?? "?")
      const after = cgroup.counters()
      assert.strictEqual(after.oomKills, 0)
      assert.strictEqual(after.memoryLimitBytes, 96 * mib)
      assert.isAtLeast(after.memoryPeakBytes, 40 * mib)
      assert.isAtMost(after.memoryPeakBytes, 96 * mib)
      // Past the limit (no swap to escape to): the kernel's OOM killer ends it, and the cgroup counts it.
      const over = await runInside(
        cgroup.wrap,
        "const kept = []; for (let i = 0; i < 200; i++) kept.push(Buffer.alloc(2 ** 20, 1)); console.log(kept.length)"
      )
      assert.strictEqual(over.signal, "SIGKILL")
      assert.strictEqual(cgroup.counters().oomKills, 1)
      assert.deepStrictEqual(cgroup.pids(), [])
    } finally {
      await cgroup.remove()
    }
    for (const directory of cgroup.directories) assert.isFalse(fs.existsSync(directory), directory)
  })

  it("holds the process to its CPU quota", async () => {
    const cgroup = createCgroup({ memoryBytes: 256 * mib, cpus: 0.2 })
    try {
      // 300 ms of CPU on one thread cannot fit in 0.2 CPU without waiting out periods.
      const busy = await runInside(
        cgroup.wrap,
        "const end = () => { const u = process.cpuUsage(); return u.user + u.system > 300000 }; while (!end()) {}"
      )
      assert.deepStrictEqual([busy.code, busy.signal], [0, null])
      const counters = cgroup.counters()
      assert.isAbove(counters.cpuThrottledPeriods, 0, JSON.stringify(counters))
      assert.isAbove(counters.cpuThrottledMillis, 0)
    } finally {
      await cgroup.remove()
    }
  })

  it("removing it kills what is still inside", async () => {
    const cgroup = createCgroup({ memoryBytes: 64 * mib, cpus: 1 })
    const [command = "", ...args] = cgroup.wrap([process.execPath, "-e", "setInterval(() => {}, 1000); console.log('up')"])
    const child = spawn(command, args, { stdio: ["ignore", "pipe", "inherit"] })
    await new Promise((resolve) => child.stdout.once("data", resolve))
    assert.deepStrictEqual(cgroup.pids(), [child.pid ?? -1])
    const exited = new Promise((resolve) => child.once("exit", (_, signal) => resolve(signal)))
    await cgroup.remove()
    assert.strictEqual(await exited, "SIGKILL")
    for (const directory of cgroup.directories) assert.isFalse(fs.existsSync(directory), directory)
  })
})
