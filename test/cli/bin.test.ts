import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import { imageNodeOptions } from "../docker/imageRuntime.ts"
import { kill, type Running, run, runToEnd } from "../support/childProcess.ts"
import { machineNode, machinePath } from "../support/machineNode.ts"
import { processesWith, processTree } from "../support/procStats.ts"
import { projectRoot } from "../support/projectRoot.ts"

// The `k8s-cloudkms-plugin` bin as a user runs it: the file itself, started by
// its `#!` line with the machine's PATH, whose Node is 20 on this project's
// machines. It must become the pinned Node 24 running the bundle: one
// process, so signals reach the plugin once, its exit code is the command's,
// and nothing is left running.

const bin = path.join(projectRoot, "bin/k8s-cloudkms-plugin")
const start = path.join(projectRoot, "bin/start.js")
const pinnedNode = fs.realpathSync(path.join(projectRoot, "node_modules/.bin/node"))
const userEnv = { PATH: machinePath() }
const machine = machineNode()

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

/** Test clean-up: the bin, and whatever still serves on its socket. */
const stopAll = async (plugin: Running, socket: string) => {
  for (const pid of processesWith(socket)) process.kill(pid, "SIGKILL")
  await kill(plugin)
}

describe("bin/k8s-cloudkms-plugin started with the machine's PATH", () => {
  it("the machine's PATH has a node of its own, not the pinned one", () => {
    assert.isDefined(machine, "no node on the machine's PATH")
    assert.notInclude(machine?.path ?? "", "node_modules")
  })

  for (const signal of ["SIGTERM", "SIGINT", "SIGHUP"] as const) {
    it(`serves the bundle on Node 24; ${signal} to the bin: the plugin drains, removes its socket, exit 0, nothing left running`, async () => {
      const { plugin, socket, pid, tree } = await startBin(signal)
      try {
        assert.lengthOf(tree, 1, `process tree ${tree.join(" → ")}`)
        assert.strictEqual(fs.realpathSync(`/proc/${pid}/exe`), pinnedNode, "the pinned Node serves")
        const cmdline = fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0")
        assert.include(cmdline, start)
        for (const option of imageNodeOptions()) assert.include(cmdline, option, "the image's Node options")
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
    const { plugin, socket, pid } = await startBin("group", { detached: true })
    try {
      // One process in the group: the plugin gets the terminal's SIGINT once
      // (a second would cut its in-flight calls short).
      process.kill(-pid, "SIGINT")
      assert.deepStrictEqual(await plugin.exited, { code: 0, signal: null }, plugin.stderr())
      assert.isFalse(fs.existsSync(socket), "socket left behind")
      assert.deepStrictEqual(processesWith(socket), [])
    } finally {
      await stopAll(plugin, socket)
    }
  })

  it("when the plugin dies of a signal, the command dies of the same signal, leaving nothing behind", async () => {
    const { plugin, socket, pid } = await startBin("killed")
    try {
      process.kill(pid, "SIGKILL")
      assert.deepStrictEqual(await plugin.exited, { code: null, signal: "SIGKILL" })
      assert.deepStrictEqual(processesWith(socket), [])
    } finally {
      await stopAll(plugin, socket)
    }
  })

  it("npm start runs bin/start.js with the image's Node options too", () => {
    const scripts: unknown = JSON.parse(fs.readFileSync(path.join(projectRoot, "package.json"), "utf8")).scripts
    const start = typeof scripts === "object" && scripts !== null && "start" in scripts ? String(scripts.start) : ""
    assert.include(start, `exec node ${[...imageNodeOptions(), "bin/start.js"].join(" ")}`)
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
