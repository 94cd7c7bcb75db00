import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { kill } from "../support/childProcess.ts"
import { spawnCli } from "../support/spawnPlugin.ts"
import { tempDir } from "../support/tempDir.ts"

// Paths that used to get past start-up checks, through the real entrypoint:
// each is now refused before anything starts, with exit code 2 and the flag
// named, and leaves nothing behind. (A FIFO used to hang the start in a
// synchronous read that even SIGTERM could not stop.)

const keyUri = "projects/p/locations/global/keyRings/r/cryptoKeys/k"

/** Runs the plugin to its exit: code and stderr. Killed if the test ends first (a start that hangs). */
const runPlugin = (args: ReadonlyArray<string>) =>
  Effect.scoped(
    Effect.gen(function* () {
      const plugin = yield* Effect.acquireRelease(
        Effect.sync(() => spawnCli(["--healthz-port", "0", ...args])),
        (running) => Effect.promise(() => kill(running))
      )
      const exit = yield* Effect.promise(() => plugin.exited)
      return { code: exit.code, stderr: plugin.stderr() }
    })
  )

const invalid = (line: string) => `k8s-cloudkms-plugin: invalid configuration:\n  ${line}\n`

describe("paths refused at start (the real entrypoint)", () => {
  it.live("a FIFO as --fake-key-file: exit 2 naming the flag, instead of hanging in a read", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const fifo = path.join(dir, "keys.json")
      execFileSync("mkfifo", ["-m", "0600", fifo])
      const result = yield* runPlugin([
        "--kms-backend",
        "fake",
        "--fake-key-file",
        fifo,
        "--path-to-unix-socket",
        path.join(dir, "kms.sock")
      ])
      assert.deepStrictEqual(result, { code: 2, stderr: invalid(`--fake-key-file: ${fifo} is a FIFO (named pipe), not a regular file`) })
      assert.deepStrictEqual(fs.readdirSync(dir), ["keys.json"])
    })
  )

  it.live("a FIFO as --gce-config: exit 2 naming the flag, instead of hanging in a read", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const fifo = path.join(dir, "gce.conf")
      execFileSync("mkfifo", ["-m", "0600", fifo])
      const result = yield* runPlugin(["--key-uri", keyUri, "--gce-config", fifo, "--path-to-unix-socket", path.join(dir, "kms.sock")])
      assert.deepStrictEqual(result, { code: 2, stderr: invalid(`--gce-config: ${fifo} is a FIFO (named pipe), not a regular file`) })
    })
  )

  it.live("--path-to-unix-socket ending in '/': exit 2 naming the flag, no socket file left", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const socket = `${path.join(dir, "kms.sock")}/`
      const result = yield* runPlugin(["--kms-backend", "fake", "--path-to-unix-socket", socket])
      assert.deepStrictEqual(result, {
        code: 2,
        stderr: invalid(`--path-to-unix-socket: must name the socket file, not a directory: ${JSON.stringify(socket)} ends in '/'`)
      })
      assert.deepStrictEqual(fs.readdirSync(dir), [])
    })
  )

  it.live("--path-to-unix-socket naming an existing directory: exit 2, the directory untouched", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const result = yield* runPlugin(["--kms-backend", "fake", "--path-to-unix-socket", dir])
      assert.strictEqual(result.code, 2)
      assert.strictEqual(
        result.stderr,
        invalid(`--path-to-unix-socket: ${dir} is a directory; name the socket file in it, e.g. ${path.join(dir, "kms.sock")}`)
      )
      assert.deepStrictEqual(fs.readdirSync(dir), [])
    })
  )

  it.live("a socket directory every user can write, without the sticky bit: exit 2 saying what to fix, no socket", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      fs.chmodSync(dir, 0o777)
      const result = yield* runPlugin(["--kms-backend", "fake", "--path-to-unix-socket", path.join(dir, "kms.sock")])
      assert.deepStrictEqual(result, {
        code: 2,
        stderr: invalid(
          `--path-to-unix-socket: ${dir} can be written by every user and has no sticky bit, so any of them could replace the socket in it; chmod o-w ${dir} (or chmod +t ${dir}, as on /tmp)`
        )
      })
      assert.deepStrictEqual(fs.readdirSync(dir), [])
    })
  )
})
