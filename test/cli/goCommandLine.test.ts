import * as fs from "node:fs"
import * as path from "node:path"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { pluginRevision, pluginVersion } from "../../src/version.ts"
import { kill } from "../support/childProcess.ts"
import { logRecords } from "../support/logRecords.ts"
import { spawnCli } from "../support/spawnPlugin.ts"
import { makeStaleSocket } from "../support/staleSocket.ts"
import { tempDir } from "../support/tempDir.ts"

// The real entrypoint, run as the Go plugin's manifests and habits run it:
// single-dash flags, repeated flags, glog's -v, env vars with mistakes in
// them, and `probe` against a socket that is not there or not served.

const keyUri = "projects/p/locations/global/keyRings/r/cryptoKeys/k"
/** Tests that start the entrypoint several times: each start takes seconds on a busy machine. */
const slow = 120_000

/** Runs to its exit. */
const run = (args: ReadonlyArray<string>, env: Record<string, string> = {}) =>
  Effect.promise(async () => {
    const cli = spawnCli(args, env)
    const exit = await cli.exited
    return { code: exit.code, stdout: cli.stdout(), stderr: cli.stderr() }
  })

/** Started and serving (the fake backend, a free health port); killed with the scope. */
const serving = (args: ReadonlyArray<string>) =>
  Effect.acquireRelease(
    Effect.promise(async () => {
      const plugin = spawnCli(args)
      await plugin.waitForLine(/serving KMS/)
      return plugin
    }),
    (plugin) => Effect.promise(() => kill(plugin))
  )

const startLine = (stderr: string) => logRecords(stderr).find((r) => r.msg === "starting")

describe("the Go plugin's command-line habits (real entrypoint)", () => {
  it.live("single-dash flags in every Go spelling; the start line carries version and revision", () =>
    Effect.gen(function* () {
      const socket = path.join(yield* tempDir, "kms.sock")
      const plugin = yield* serving([
        `-key-uri=${keyUri}`,
        "-kms-backend",
        "fake",
        `-path-to-unix-socket=${socket}`,
        "-healthz-port=0",
        "-kms",
        "v2",
        "-logtostderr"
      ])
      const start = startLine(plugin.stderr())
      assert.include(start, { keyUri, backend: "fake", socket, kms: "v2", version: pluginVersion, revision: pluginRevision })
      assert.isTrue(fs.lstatSync(socket).isSocket())
    })
  )

  it.live("a repeated flag takes its last value, with one warning naming it (no values)", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const plugin = yield* serving([
        "--kms-backend=fake",
        "--healthz-port=0",
        "--path-to-unix-socket",
        path.join(dir, "first.sock"),
        "-path-to-unix-socket",
        path.join(dir, "last.sock"),
        "--kms=v1",
        "-kms=both"
      ])
      const start = startLine(plugin.stderr())
      assert.include(start, { socket: path.join(dir, "last.sock"), kms: "both" })
      const warnings = logRecords(plugin.stderr()).filter((r) => r.msg.startsWith("flags given more than once"))
      assert.lengthOf(warnings, 1)
      assert.strictEqual(warnings[0]?.level, "warn")
      assert.strictEqual(warnings[0]?.msg, "flags given more than once, the last value is used: --path-to-unix-socket, --kms")
      assert.isFalse(fs.existsSync(path.join(dir, "first.sock")))
    })
  )

  it.live(
    "-v, --v, -version and --version print the version and exit 0",
    () =>
      Effect.gen(function* () {
        const spellings = [["-v"], ["--v"], ["-version"], ["--version"]]
        const results = yield* Effect.forEach(spellings, (args) => run(args), { concurrency: "unbounded" })
        results.forEach((result, i) => {
          const args = spellings[i]?.join(" ")
          assert.strictEqual(result.code, 0, `${args}: ${result.stderr}`)
          assert.strictEqual(result.stdout.trim(), `k8s-cloudkms-plugin v${pluginVersion}`, args)
          assert.strictEqual(result.stderr, "", args)
        })
      }),
    slow
  )

  it.live(
    "glog's verbosity (--v=2, -v 4) is accepted, ignored and said once; a verbosity that is no number exits 2",
    () =>
      Effect.gen(function* () {
        const dir = yield* tempDir
        const spellings = [["--v=2"], ["-v", "4"]]
        const plugins = yield* Effect.forEach(
          spellings,
          (verbosity, i) =>
            serving(["--kms-backend=fake", "--healthz-port=0", `--path-to-unix-socket=${path.join(dir, `${i}.sock`)}`, ...verbosity]),
          { concurrency: "unbounded" }
        )
        plugins.forEach((plugin, i) => {
          const ignored = logRecords(plugin.stderr()).filter((r) => r.msg.startsWith("ignoring the Go plugin's glog flags"))
          assert.lengthOf(ignored, 1, spellings[i]?.join(" "))
        })
        const bad = yield* run(["--kms-backend=fake", "-v=loud"])
        assert.strictEqual(bad.code, 2)
        assert.include(bad.stderr, '--v: expected glog\'s verbosity level, a whole number (it is ignored), got "loud"')
      }),
    slow
  )

  it.live("a bad env var value exits 2 with one line naming the variable", () =>
    Effect.gen(function* () {
      const socket = path.join(yield* tempDir, "kms.sock")
      const result = yield* run(["--kms-backend=fake", `--path-to-unix-socket=${socket}`], { KMS_PLUGIN_KMS_INSECURE: "maybe" })
      assert.strictEqual(result.code, 2)
      const naming = result.stderr.split("\n").filter((line) => line.includes("KMS_PLUGIN_KMS_INSECURE"))
      assert.deepStrictEqual(naming, ['  KMS_PLUGIN_KMS_INSECURE: expected true or false, got "maybe"'])
      assert.notInclude(result.stderr, "SchemaError")
      assert.isFalse(fs.existsSync(socket))
    })
  )

  it.live("an unknown single-dash flag is named as typed (not as -k -e -y …), exit 2", () =>
    Effect.gen(function* () {
      const result = yield* run(["--kms-backend=fake", `-key-urri=${keyUri}`])
      assert.strictEqual(result.code, 2)
      assert.deepStrictEqual(result.stderr.trim().split("\n"), [
        "k8s-cloudkms-plugin: Unrecognized flag: -key-urri in command k8s-cloudkms-plugin",
        "Run 'k8s-cloudkms-plugin --help' for usage."
      ])
      const probe = yield* run(["probe", "-sockett=/x"])
      assert.strictEqual(probe.code, 2)
      assert.include(probe.stderr, "Unrecognized flag: -sockett in command k8s-cloudkms-plugin probe")
    })
  )

  it.live("probe (single-dash flags) on a missing or refused socket: one plain line per check, exit 1", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const missing = path.join(dir, "none.sock")
      const gone = yield* run(["probe", `-path-to-unix-socket=${missing}`, "-timeout", "2s"])
      assert.strictEqual(gone.code, 1)
      assert.deepStrictEqual(gone.stdout.trim().split("\n"), [
        `probe ${missing}`,
        `  FAIL  v2 Status                no socket at ${missing} (ENOENT)`,
        `  FAIL  v2 Encrypt/Decrypt       no socket at ${missing} (ENOENT)`,
        `  FAIL  v1beta1 Version          no socket at ${missing} (ENOENT)`,
        `  FAIL  v1beta1 Encrypt/Decrypt  no socket at ${missing} (ENOENT)`,
        "0 passed, 4 failed"
      ])
      const stale = path.join(dir, "stale.sock")
      makeStaleSocket(stale)
      const refused = yield* run(["probe", "-path-to-unix-socket", stale, "-kms=v2", "-timeout=2s"])
      assert.strictEqual(refused.code, 1)
      assert.deepStrictEqual(refused.stdout.trim().split("\n"), [
        `probe ${stale}`,
        `  FAIL  v2 Status           connection refused at ${stale}: nothing serves it (ECONNREFUSED)`,
        `  FAIL  v2 Encrypt/Decrypt  connection refused at ${stale}: nothing serves it (ECONNREFUSED)`,
        "0 passed, 2 failed"
      ])
      for (const output of [gone, refused]) {
        assert.notInclude(output.stdout + output.stderr, "Resolution note")
        assert.strictEqual(output.stderr, "")
      }
    })
  )
})
