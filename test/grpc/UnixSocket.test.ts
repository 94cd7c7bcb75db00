import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as net from "node:net"
import * as path from "node:path"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { isAbstractSocket, socketDirectoryProblem } from "../../src/config/SocketPath.ts"
import { claimSocketPath, ownSocket, removeOwnedSocket, withSocketUmask } from "../../src/grpc/UnixSocket.ts"
import { tempDir } from "../support/tempDir.ts"

// The socket file's lifecycle, in process: each rule and its message.

const listening = (socketPath: string) =>
  Effect.acquireRelease(
    Effect.promise(
      () =>
        new Promise<net.Server>((resolve) => {
          const server = net.createServer((c) => c.end())
          server.listen(socketPath, () => resolve(server))
        })
    ),
    (server) => Effect.promise(() => new Promise<void>((resolve) => server.close(() => resolve())))
  )

describe("unix socket lifecycle", () => {
  it.effect("abstract names are recognised by their @", () =>
    Effect.sync(() => {
      assert.isTrue(isAbstractSocket("@kms"))
      assert.isFalse(isAbstractSocket("/run/@kms"))
      assert.isUndefined(socketDirectoryProblem("@anything"))
    })
  )

  it.effect("the directory must exist, be a directory, and be writable", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      assert.isUndefined(socketDirectoryProblem(path.join(dir, "kms.sock")))
      assert.strictEqual(
        socketDirectoryProblem(path.join(dir, "missing", "kms.sock")),
        `directory ${path.join(dir, "missing")} does not exist; create it (the apiserver must see the same directory)`
      )
      fs.writeFileSync(path.join(dir, "file"), "")
      assert.strictEqual(socketDirectoryProblem(path.join(dir, "file", "kms.sock")), `${path.join(dir, "file")} is not a directory`)
    })
  )

  it.live("claim: nothing there is fine; a regular file is refused and untouched; a live socket is refused; a stale one is removed", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const free = path.join(dir, "free.sock")
      yield* claimSocketPath(free)
      yield* claimSocketPath("@abstract-is-not-claimed")

      const file = path.join(dir, "file.sock")
      fs.writeFileSync(file, "keep")
      const refused = yield* Effect.flip(claimSocketPath(file))
      assert.strictEqual(refused._tag, "ConfigError")
      assert.include(refused.message, `--path-to-unix-socket: ${file} exists and is not a socket; refusing to touch it`)
      assert.strictEqual(fs.readFileSync(file, "utf8"), "keep")

      const live = path.join(dir, "live.sock")
      yield* listening(live)
      const busy = yield* Effect.flip(claimSocketPath(live))
      assert.strictEqual(busy._tag, "StartupError")
      assert.strictEqual(busy.message, `another process is serving on ${live}; stop it first, or choose another --path-to-unix-socket`)
      assert.isTrue(fs.existsSync(live))

      const stale = path.join(dir, "stale.sock")
      spawnSync(process.execPath, [
        "-e",
        "require('net').createServer().listen(process.argv[1], () => process.kill(process.pid, 'SIGKILL'))",
        stale
      ])
      assert.isTrue(fs.lstatSync(stale).isSocket())
      yield* claimSocketPath(stale)
      assert.isFalse(fs.existsSync(stale))
    }).pipe(Effect.scoped)
  )

  it.live("the umask is held only for the bind, and restored after", () =>
    Effect.gen(function* () {
      const before = process.umask()
      const during = yield* withSocketUmask(
        0o640,
        Effect.sync(() => process.umask())
      )
      assert.strictEqual(during, 0o137)
      assert.strictEqual(process.umask(), before)
      const failed = yield* Effect.flip(withSocketUmask(0o600, Effect.fail("bind failed")))
      assert.strictEqual(failed, "bind failed")
      assert.strictEqual(process.umask(), before)
    })
  )

  it.live("owned sockets: the mode is enforced, and only our own socket is ever removed", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const socket = path.join(dir, "kms.sock")
      const server = yield* listening(socket)
      fs.chmodSync(socket, 0o777)
      const owned = yield* ownSocket(socket, 0o600)
      assert.isDefined(owned)
      assert.strictEqual(fs.lstatSync(socket).mode & 0o777, 0o600)
      assert.isUndefined(yield* ownSocket("@abstract", 0o600))
      const vanished = yield* Effect.flip(ownSocket(path.join(dir, "gone.sock"), 0o600))
      assert.include(vanished.message, "vanished after bind")
      // Someone else's socket now sits at the path: left alone.
      yield* Effect.promise(() => new Promise<void>((resolve) => server.close(() => resolve())))
      yield* listening(socket)
      if (owned !== undefined) removeOwnedSocket(owned)
      assert.isTrue(fs.existsSync(socket))
      // Ours: removed; and removing twice is harmless.
      const mine = yield* ownSocket(socket, 0o600)
      if (mine !== undefined) {
        removeOwnedSocket(mine)
        removeOwnedSocket(mine)
      }
      assert.isFalse(fs.existsSync(socket))
    }).pipe(Effect.scoped)
  )
})
