import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import { kill, run, type Running, runToEnd } from "../support/childProcess.ts"
import { machineNode, machinePath, processesWith, processTree } from "../support/machineNode.ts"
import { projectRoot } from "../support/spawnPlugin.ts"

// The `k8s-cloudkms-plugin` bin as a user runs it: the file itself, started by
// its `#!/usr/bin/env node` with the machine's PATH, so the machine's Node
// (20 on this project's machines). Below Node 24 it must run the bundle on
// the pinned Node 24 and stand in for it: signals passed on once, the exit
// code passed back, nothing left running.

const bin = path.join(projectRoot, "bin/k8s-cloudkms-plugin.js")
const bundle = path.join(projectRoot, "dist/main.mjs")
const pinnedNode = fs.realpathSync(path.join(projectRoot, "node_modules/.bin/node"))
const userEnv = { PATH: machinePath() }
const machine = machineNode()
/** Below 24 the bin starts the pinned Node: two processes, else one. */
const reexecs = machine !== undefined && machine.major < 24

let dir = ""
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "kmsp-bin-"))
})
afterAll(() => {
  if (dir !== "") fs.rmSync(dir, { recursive: true, force: true })
})

const startBin = async (name: string, options: { readonly detached?: boolean } = {}) => {
  const socket = path.join(dir, `${name}.sock`)
  const plugin = run(bin, ["--kms-backend", "fake", "--healthz-port", "0", "--path-to-unix-socket", socket], {
    cwd: dir,
    env: userEnv,
    ...options
  })
  await plugin.waitForLine(/serving KMS v2 and v1beta1/)
  const pid = plugin.child.pid ?? 0
  return { plugin, socket, pid, tree: processTree(pid) }
}

/** The process that serves: the bin itself, or the pinned Node it started. */
const servingPid = (tree: ReadonlyArray<number>): number => tree.at(-1) ?? 0

/** Field 5 of /proc/<pid>/stat: the process group. */
const processGroup = (pid: number): number => {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8")
  return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[2])
}

/** Test clean-up: the bin, and whatever still serves on its socket. */
const stopAll = async (plugin: Running, socket: string) => {
  for (const pid of processesWith(socket)) process.kill(pid, "SIGKILL")
  await kill(plugin)
}

describe("bin/k8s-cloudkms-plugin.js started by the machine's node", () => {
  it("the machine's node is the one the bin's #! line finds", () => {
    assert.isDefined(machine, "no node on the machine's PATH")
    assert.notInclude(machine?.path ?? "", "node_modules")
  })

  for (const signal of ["SIGTERM", "SIGINT", "SIGHUP"] as const) {
    it(`serves the bundle on Node 24; ${signal} to the bin: the plugin drains, removes its socket, exit 0, nothing left running`, async () => {
      const { plugin, socket, pid, tree } = await startBin(signal)
      try {
        assert.lengthOf(tree, reexecs ? 2 : 1, `process tree ${tree.join(" → ")}`)
        const served = servingPid(tree)
        if (reexecs) assert.strictEqual(fs.realpathSync(`/proc/${served}/exe`), pinnedNode, "the pinned Node serves")
        assert.include(fs.readFileSync(`/proc/${served}/cmdline`, "utf8").split("\0"), reexecs ? bundle : bin)
        assert.isTrue(fs.existsSync(socket))

        process.kill(pid, signal)
        assert.deepStrictEqual(await plugin.exited, { code: 0, signal: null }, plugin.stderr())
        assert.match(plugin.stderr(), /stopped serving/)
        assert.isFalse(fs.existsSync(socket), "socket left behind")
        assert.deepStrictEqual(processesWith(socket), [], "a process still runs with this socket")
      } finally {
        await stopAll(plugin, socket)
      }
    })
  }

  it("a Ctrl-C (SIGINT to the whole process group) reaches the plugin once: a clean drain, exit 0", async () => {
    const { plugin, socket, pid, tree } = await startBin("group", { detached: true })
    try {
      // Outside the bin's group, the pinned Node gets the terminal's signals from the bin only
      // (a second SIGINT would cut the plugin's in-flight calls short).
      assert.deepStrictEqual(tree.map(processGroup).filter((group) => group === pid), [pid], `process groups of ${tree.join(" → ")}`)
      process.kill(-pid, "SIGINT")
      assert.deepStrictEqual(await plugin.exited, { code: 0, signal: null }, plugin.stderr())
      assert.isFalse(fs.existsSync(socket), "socket left behind")
      assert.deepStrictEqual(processesWith(socket), [])
    } finally {
      await stopAll(plugin, socket)
    }
  })

  it("when the plugin dies of a signal, the bin dies of the same signal", async () => {
    const { plugin, socket, tree } = await startBin("killed")
    try {
      process.kill(servingPid(tree), "SIGKILL")
      assert.deepStrictEqual(await plugin.exited, { code: null, signal: "SIGKILL" })
      assert.deepStrictEqual(processesWith(socket), [])
    } finally {
      await stopAll(plugin, socket)
    }
  })

  it("passes the plugin's exit code and output back: --version 0, a bad flag 2", async () => {
    const version = await runToEnd(bin, ["--version"], { cwd: dir, env: userEnv })
    assert.strictEqual(version.code, 0, version.stderr)
    assert.match(version.stdout, /^k8s-cloudkms-plugin v\d+\.\d+\.\d+/)
    const bad = await runToEnd(bin, ["--no-such-flag"], { cwd: dir, env: userEnv })
    assert.strictEqual(bad.code, 2, bad.stderr)
    assert.match(bad.stderr, /no-such-flag/)
  })
})
