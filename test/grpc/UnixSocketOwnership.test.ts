import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import * as net from "node:net"
import * as path from "node:path"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { socketDirectoryProblem } from "../../src/config/SocketPath.ts"
import { claimSocketPath, ownSocket, removeOwnedSocket } from "../../src/grpc/UnixSocket.ts"
import { kill, run } from "../support/childProcess.ts"
import { lineCollector } from "../support/logCapture.ts"
import { tempDir } from "../support/tempDir.ts"

// Whose socket is it? Only a socket nobody answers on is removed at start,
// and at exit only the very file we created.

/** Runs `effect`, returning what it logged. */
const logged = <A, E>(effect: Effect.Effect<A, E>) =>
  Effect.gen(function* () {
    const logs = lineCollector()
    const result = yield* Effect.result(Effect.provide(effect, logs.layer))
    return { result, lines: logs.messages }
  })

// A live server that cannot accept right now: its accept queue is full and
// its event loop is busy, so a new connection gets EAGAIN instead of a refusal.
const busyServer = `
const net = require("node:net")
const socketPath = process.argv[1]
const server = net.createServer()
server.listen({ path: socketPath, backlog: 1 }, () => {
  for (let i = 0; i < 4; i++) net.connect({ path: socketPath }).on("error", () => {})
  process.stderr.write("accept queue full\\n")
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0)
})
`

describe("socket ownership", () => {
  it.live("a stale socket is removed, and the log says so", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const stale = path.join(dir, "stale.sock")
      spawnSync(process.execPath, [
        "-e",
        "require('net').createServer().listen(process.argv[1], () => process.kill(process.pid, 'SIGKILL'))",
        stale
      ])
      assert.isTrue(fs.lstatSync(stale).isSocket())
      const { lines, result } = yield* logged(claimSocketPath(stale))
      assert.strictEqual(result._tag, "Success")
      assert.deepStrictEqual(lines, [`removing stale socket ${stale} left by an earlier run`])
      assert.isFalse(fs.existsSync(stale))
    }).pipe(Effect.scoped)
  )

  it.live("a live server too busy to accept (EAGAIN) still owns its socket: refused, not removed", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const busy = path.join(dir, "busy.sock")
      const child = yield* Effect.acquireRelease(
        Effect.sync(() => run(process.execPath, ["-e", busyServer, busy], { cwd: dir })),
        (child) => Effect.promise(() => kill(child))
      )
      yield* Effect.promise(() => child.waitForLine(/accept queue full/))
      // The probe really meets EAGAIN here (not a connect or a refusal).
      const code = yield* Effect.promise(
        () =>
          new Promise<string>((resolve) => {
            const probe = net.connect({ path: busy })
            probe.once("connect", () => resolve("connected"))
            probe.once("error", (error: NodeJS.ErrnoException) => resolve(error.code ?? "?"))
          })
      )
      assert.strictEqual(code, "EAGAIN")
      const { lines, result } = yield* logged(claimSocketPath(busy))
      assert.strictEqual(result._tag, "Failure")
      if (result._tag === "Failure") {
        assert.strictEqual(
          result.failure.message,
          `another process is serving on ${busy}; stop it first, or choose another --path-to-unix-socket`
        )
      }
      assert.deepStrictEqual(lines, [])
      assert.isTrue(fs.lstatSync(busy).isSocket())
    }).pipe(Effect.scoped)
  )

  it.live("removal needs the same inode, device and birth time: a record differing in any one leaves the file", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const socketPath = path.join(dir, "kms.sock")
      const server = net.createServer()
      yield* Effect.acquireRelease(
        Effect.promise(() => new Promise<void>((resolve) => server.listen(socketPath, () => resolve()))),
        () => Effect.promise(() => new Promise<void>((resolve) => server.close(() => resolve())))
      )
      const owned = yield* ownSocket(socketPath, 0o600)
      assert.isDefined(owned)
      if (owned === undefined) return
      const stat = fs.lstatSync(socketPath)
      assert.deepStrictEqual(owned, { path: socketPath, ino: stat.ino, dev: stat.dev, birthtimeMs: stat.birthtimeMs })
      const others = [
        { ...owned, ino: owned.ino + 1 },
        { ...owned, dev: owned.dev + 1 },
        { ...owned, birthtimeMs: owned.birthtimeMs + 1 }
      ]
      for (const other of others) {
        removeOwnedSocket(other)
        assert.isTrue(fs.existsSync(socketPath), JSON.stringify(other))
      }
      removeOwnedSocket(owned)
      assert.isFalse(fs.existsSync(socketPath))
    }).pipe(Effect.scoped)
  )

  it.live("the liveness probe hangs up: a live server sees its connection closed by the prober", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const live = path.join(dir, "live.sock")
      const closed: Array<Promise<void>> = []
      // Unlike most servers this one never hangs up first, so only the prober can end the connection.
      const server = net.createServer((connection) => {
        closed.push(new Promise((resolve) => connection.once("close", () => resolve())))
        connection.resume()
      })
      yield* Effect.acquireRelease(
        Effect.promise(() => new Promise<void>((resolve) => server.listen(live, () => resolve()))),
        () => Effect.promise(() => new Promise<void>((resolve) => server.close(() => resolve())))
      )
      const refused = yield* Effect.flip(claimSocketPath(live))
      assert.strictEqual(refused._tag, "StartupError")
      assert.strictEqual(closed.length, 1)
      yield* Effect.promise(() => Promise.all(closed))
    }).pipe(Effect.scoped)
  )

  it.live("an abstract name is never looked up as a file, even when a file of that name exists", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      // "@kms" and "@no/such/kms" would be relative paths: make one exist as a plain file, the other's directory not.
      const cwd = process.cwd()
      yield* Effect.acquireRelease(
        Effect.sync(() => process.chdir(dir)),
        () => Effect.sync(() => process.chdir(cwd))
      )
      fs.writeFileSync(path.join(dir, "@kms"), "not a socket")
      yield* claimSocketPath("@kms")
      assert.isUndefined(socketDirectoryProblem("@no/such/kms"))
      assert.strictEqual(fs.readFileSync(path.join(dir, "@kms"), "utf8"), "not a socket")
    }).pipe(Effect.scoped)
  )
})
