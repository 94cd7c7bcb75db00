import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import { projectRoot } from "../../bin/ensureBundle.js"
import { kill, run, runToEnd } from "../support/childProcess.ts"
import { machinePath } from "../support/machineNode.ts"
import { processesWith } from "../support/procStats.ts"

// A production install from a checkout, as the README gives it: a checkout
// whose dist/ is built, `npm ci --omit=dev` (no bundler, no test tools;
// `prepare` finds nothing to build with and keeps dist/), then the bin,
// started by the machine's Node as a user's shell does. The runtime
// libraries must all be production dependencies, and the pinned Node 24
// (an optional one) must be there for a machine whose Node is older.

let root = ""
const userEnv = { PATH: machinePath() }

beforeAll(async () => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), "kmsp-prod-"))
  for (const source of ["bin", "proto", "scripts", "src", "package.json", "package-lock.json", "tsconfig.json"]) {
    fs.cpSync(path.join(projectRoot, source), path.join(root, source), { recursive: true })
  }
  const build = await runToEnd("npm", ["run", "build", "--", "--dir", path.join(root, "dist")], { cwd: projectRoot })
  assert.strictEqual(build.code, 0, build.stderr)
  // From npm's cache where it has them; scripts run, as on a user's machine.
  const install = await runToEnd("npm", ["ci", "--omit=dev", "--no-audit", "--no-fund", "--prefer-offline"], { cwd: root, env: userEnv })
  assert.strictEqual(install.code, 0, install.stdout + install.stderr)
}, 300_000)

// Some 200 MiB (the Node binary among them): not to be removed under the default hook timeout on a loaded machine.
afterAll(() => (root === "" ? undefined : fs.promises.rm(root, { recursive: true, force: true })), 120_000)

describe("npm ci --omit=dev on a checkout with dist/ built, then the bin", () => {
  it("installs no dev dependency, and the pinned Node through the lock file", () => {
    assert.isFalse(fs.existsSync(path.join(root, "node_modules/rolldown")))
    assert.isFalse(fs.existsSync(path.join(root, "node_modules/vitest")))
    assert.isTrue(fs.existsSync(path.join(root, "node_modules/effect/package.json")))
    assert.match(fs.realpathSync(path.join(root, "node_modules/.bin/node")), /node_modules\/node-linux-[a-z0-9]+\/bin\/node$/)
  })

  it("serves, passes its own probe, and stops on SIGTERM with its socket removed", async () => {
    const socket = path.join(root, "kms.sock")
    const bin = path.join(root, "bin/k8s-cloudkms-plugin")
    const plugin = run(bin, ["--kms-backend", "fake", "--healthz-port", "0", "--path-to-unix-socket", socket], { cwd: root, env: userEnv })
    try {
      await plugin.waitForLine(/serving KMS v2 and v1beta1/)
      const probe = await runToEnd(bin, ["probe", "--path-to-unix-socket", socket], { cwd: root, env: userEnv })
      assert.strictEqual(probe.code, 0, probe.stdout + probe.stderr)
      assert.match(probe.stdout, /\b0 failed\b/)
      plugin.child.kill("SIGTERM")
      assert.deepStrictEqual(await plugin.exited, { code: 0, signal: null }, plugin.stderr())
      assert.isFalse(fs.existsSync(socket))
      assert.notMatch(plugin.stderr(), /\bbuilt dist\b/, "nothing to build with, nothing built")
    } finally {
      for (const pid of processesWith(socket)) process.kill(pid, "SIGKILL")
      await kill(plugin)
    }
  })
})
