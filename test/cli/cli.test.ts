import * as fs from "node:fs"
import * as path from "node:path"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { envVarOf, pluginFlags } from "../../src/config/flags.ts"
import { runCli as run, spawnPlugin } from "../support/spawnPlugin.ts"
import { tempDir } from "../support/tempDir.ts"

// The Go plugin's glog flags are accepted but hidden.
const goFlags = ["logtostderr", "alsologtostderr", "v"]
const flagNames = Object.values(pluginFlags)
  .map((flag) => JSON.stringify(flag).match(/"name":"([a-z0-9-]+)"/)?.[1])
  .filter((name) => !goFlags.includes(name ?? ""))

describe("command line", () => {
  it.live("--help lists every plugin flag with its env var, and the probe sub-command; exit 0", () =>
    Effect.gen(function* () {
      const help = yield* run(["--help"])
      assert.strictEqual(help.code, 0)
      for (const name of flagNames) {
        assert.isString(name)
        assert.include(help.stdout, `--${name} `)
        assert.include(help.stdout, `[env ${envVarOf(name ?? "")}]`)
      }
      assert.include(help.stdout, "--log-level")
      assert.include(help.stdout, "probe")
      assert.notInclude(help.stdout, "--wizard")
    })
  )

  it.live("--version prints the version; exit 0", () =>
    Effect.gen(function* () {
      const version = yield* run(["--version"])
      assert.strictEqual(version.code, 0)
      assert.match(version.stdout, /k8s-cloudkms-plugin v\d+\.\d+\.\d+/)
    })
  )

  const badFlags: ReadonlyArray<[ReadonlyArray<string>, string]> = [
    [["--kms-backend", "fake", "--healthz-port", "abc"], "--healthz-port"],
    [["--kms-backend", "fake", "--healthz-port", "65536"], "--healthz-port"],
    [["--key-uri", "projects/p/keyRings/r/cryptoKeys/k"], "--key-uri"],
    [[], "--key-uri"],
    [["--kms-backend", "fake", "--healthz-timeout", "5 seconds"], "--healthz-timeout"],
    [["--kms-backend", "fake", "--kms", "v3"], "--kms"],
    [["--kms-backend", "fake", "--socket-mode", "0400"], "--socket-mode"],
    [["--kms-backend", "fake", "--no-such-flag"], "--no-such-flag"],
    [["--kms-backend", "fake", "--log-level", "loud"], "--log-level"]
  ]
  for (const [args, flag] of badFlags) {
    it.live(`${args.join(" ") || "(no flags)"} → exit 2 naming ${flag}, no socket`, () =>
      Effect.gen(function* () {
        const socket = path.join(yield* tempDir, "kms.sock")
        const result = yield* run([...args, "--path-to-unix-socket", socket])
        assert.strictEqual(result.code, 2, result.stderr)
        assert.include(result.stderr, flag)
        assert.isAtMost(result.stderr.trim().split("\n").length, 4, "one short message, not a help dump")
        assert.isFalse(fs.existsSync(socket))
      })
    )
  }

  it.live("the Go plugin's --logtostderr and --v are accepted (and ignored), so its manifests run unchanged", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const plugin = yield* spawnPlugin([
        "--path-to-unix-socket",
        path.join(dir, "kms.sock"),
        "--logtostderr",
        "--v=2",
        "--log-format",
        "text"
      ])
      assert.include(plugin.stderr(), "ignoring the Go plugin's glog flags")
      const help = yield* run(["--help"])
      for (const name of goFlags) assert.notInclude(help.stdout, `--${name} `)
    })
  )

  it.live("env vars are read as flags (KMS_PLUGIN_<FLAG>), and a bad one is named by the variable", () =>
    Effect.gen(function* () {
      const result = yield* run(["--kms-backend", "fake"], { KMS_PLUGIN_HEALTHZ_TIMEOUT: "soon" })
      assert.strictEqual(result.code, 2)
      assert.include(result.stderr, "KMS_PLUGIN_HEALTHZ_TIMEOUT: ")
      const level = yield* run(["--kms-backend", "fake"], { KMS_PLUGIN_LOG_LEVEL: "chatty" })
      assert.strictEqual(level.code, 2)
      assert.include(level.stderr, "KMS_PLUGIN_LOG_LEVEL: ")
    })
  )

  it.live("a flag on the command line wins over its env var", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const plugin = yield* spawnPlugin(["--path-to-unix-socket", path.join(dir, "flag.sock"), "--log-level", "INFO"], {
        KMS_PLUGIN_PATH_TO_UNIX_SOCKET: path.join(dir, "env.sock")
      })
      assert.include(plugin.stderr(), "flag.sock")
      assert.notInclude(plugin.stderr(), "env.sock")
    })
  )

  it.live("log level is case-insensitive from the env var, and JSON lines are the default format", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const plugin = yield* spawnPlugin(["--path-to-unix-socket", path.join(dir, "kms.sock")], { KMS_PLUGIN_LOG_LEVEL: "DEBUG" })
      const lines = plugin
        .stderr()
        .trim()
        .split("\n")
        .map((line) => JSON.parse(line) as { level: string; msg: string })
      assert.isTrue(lines.some((l) => l.msg.startsWith("serving KMS") && l.level === "info"))
    })
  )

  it.live("probe passes against a running plugin (both APIs) and fails (exit 1) against a missing socket", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const socket = path.join(dir, "kms.sock")
      yield* spawnPlugin(["--path-to-unix-socket", socket])
      const ok = yield* run(["probe", "--path-to-unix-socket", socket])
      assert.strictEqual(ok.code, 0, ok.stdout + ok.stderr)
      assert.include(ok.stdout, "4 passed, 0 failed")
      const missing = yield* run(["probe", "--path-to-unix-socket", path.join(dir, "none.sock"), "--timeout", "1s"])
      assert.strictEqual(missing.code, 1)
      assert.include(missing.stdout, "FAIL")
    })
  )
})
