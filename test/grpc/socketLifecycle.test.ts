import * as fs from "node:fs"
import * as path from "node:path"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { makePluginClient } from "../../src/client/PluginClient.ts"
import { spawnCli, spawnPlugin } from "../support/spawnPlugin.ts"
import { makeStaleSocket } from "../support/staleSocket.ts"
import { tempDir } from "../support/tempDir.ts"

const statusThrough = (socketPath: string) =>
  Effect.scoped(Effect.flatMap(makePluginClient(`unix://${socketPath}`, { timeoutMillis: 5_000 }), (client) => client.v2Status))

describe("socket lifecycle (the real entrypoint)", () => {
  it.live("creates the socket with mode 0600, serves, and removes it on SIGTERM with exit code 0", () =>
    Effect.gen(function* () {
      const socket = path.join(yield* tempDir, "kms.sock")
      const plugin = yield* spawnPlugin(["--path-to-unix-socket", socket])
      assert.strictEqual(fs.lstatSync(socket).mode & 0o777, 0o600)
      assert.strictEqual((yield* statusThrough(socket)).healthz, "ok")
      plugin.child.kill("SIGTERM")
      const exit = yield* Effect.promise(() => plugin.exited)
      assert.deepStrictEqual(exit, { code: 0, signal: null })
      assert.isFalse(fs.existsSync(socket))
    })
  )

  it.live("--socket-mode sets the mode from creation", () =>
    Effect.gen(function* () {
      const socket = path.join(yield* tempDir, "kms.sock")
      yield* spawnPlugin(["--path-to-unix-socket", socket, "--socket-mode", "0660"])
      assert.strictEqual(fs.lstatSync(socket).mode & 0o777, 0o660)
    })
  )

  it.live("replaces a stale socket left by a crash", () =>
    Effect.gen(function* () {
      const socket = path.join(yield* tempDir, "kms.sock")
      makeStaleSocket(socket)
      const plugin = yield* spawnPlugin(["--path-to-unix-socket", socket])
      assert.include(plugin.stderr(), "stale socket")
      assert.strictEqual((yield* statusThrough(socket)).healthz, "ok")
    })
  )

  it.live("refuses a regular file at the path, exit code 2, file untouched", () =>
    Effect.gen(function* () {
      const socket = path.join(yield* tempDir, "kms.sock")
      fs.writeFileSync(socket, "precious", { mode: 0o644 })
      const plugin = spawnCli(["--kms-backend", "fake", "--healthz-port", "0", "--path-to-unix-socket", socket])
      const exit = yield* Effect.promise(() => plugin.exited)
      assert.strictEqual(exit.code, 2)
      assert.include(plugin.stderr(), "--path-to-unix-socket")
      assert.include(plugin.stderr(), "not a socket")
      assert.strictEqual(fs.readFileSync(socket, "utf8"), "precious")
      assert.strictEqual(fs.lstatSync(socket).mode & 0o777, 0o644)
    })
  )

  it.live("refuses to take over a socket another live plugin serves on (exit 1); the first keeps serving", () =>
    Effect.gen(function* () {
      const socket = path.join(yield* tempDir, "kms.sock")
      yield* spawnPlugin(["--path-to-unix-socket", socket])
      const second = spawnCli(["--kms-backend", "fake", "--healthz-port", "0", "--path-to-unix-socket", socket])
      const exit = yield* Effect.promise(() => second.exited)
      assert.strictEqual(exit.code, 1)
      assert.include(second.stderr(), "another process is serving")
      assert.strictEqual((yield* statusThrough(socket)).healthz, "ok")
    })
  )

  it.live("a socket directory that does not exist: exit code 2 naming the flag, nothing created", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const plugin = spawnCli(["--kms-backend", "fake", "--healthz-port", "0", "--path-to-unix-socket", "missing/kms.sock"], {}, dir)
      const exit = yield* Effect.promise(() => plugin.exited)
      assert.strictEqual(exit.code, 2)
      assert.include(plugin.stderr(), "--path-to-unix-socket")
      assert.include(plugin.stderr(), "does not exist")
      assert.deepStrictEqual(fs.readdirSync(dir), [])
    })
  )
})
