import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as fsp from "node:fs/promises"
import * as path from "node:path"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import { readOpenedFile, readOperatorFile } from "../../src/config/OperatorFile.ts"
import { tempDir } from "../support/tempDir.ts"

// How --gce-config and --fake-key-file are read: only regular files, checked
// on the descriptor that is read, opened so that a FIFO cannot block the open,
// and read off the event loop so that the read can be interrupted (a SIGTERM
// during start-up stops the plugin at once).

const fifoIn = (dir: string) => {
  const fifo = path.join(dir, "pipe")
  execFileSync("mkfifo", ["-m", "0600", fifo])
  return fifo
}

describe("reading an operator's file", () => {
  it.effect("a regular file: its text; a symlink to one: its text unless the file is private", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const file = path.join(dir, "gce.conf")
      fs.writeFileSync(file, "[global]\n", { mode: 0o600 })
      fs.symlinkSync(file, path.join(dir, "link"))
      assert.strictEqual(yield* readOperatorFile(file, { private: false }), "[global]\n")
      assert.strictEqual(yield* readOperatorFile(path.join(dir, "link"), { private: false }), "[global]\n")
      assert.strictEqual(yield* readOperatorFile(file, { private: true }), "[global]\n")
      const refused = yield* Effect.flip(readOperatorFile(path.join(dir, "link"), { private: true }))
      assert.strictEqual(refused.message, `${path.join(dir, "link")} is a symbolic link; give the path of the file itself`)
    })
  )

  it.effect("a missing file says so (missing: true)", () =>
    Effect.gen(function* () {
      const missing = path.join(yield* tempDir, "none")
      const error = yield* Effect.flip(readOperatorFile(missing, { private: false }))
      assert.deepStrictEqual(
        [error.message, error.missing],
        [`cannot read ${missing}: ENOENT: no such file or directory, open '${missing}'`, true]
      )
    })
  )

  it.effect("a FIFO, with or without a writer, is refused at once: the open does not wait for a writer, nothing is read", () =>
    Effect.gen(function* () {
      const fifo = fifoIn(yield* tempDir)
      const refusal = `${fifo} is a FIFO (named pipe), not a regular file`
      assert.strictEqual((yield* Effect.flip(readOperatorFile(fifo, { private: false }))).message, refusal)
      // A writer that never writes (nor closes) would hold a plain read for ever.
      const writer = yield* Effect.acquireRelease(
        Effect.promise(() => fsp.open(fifo, fs.constants.O_RDWR)),
        (handle) => Effect.promise(() => handle.close())
      )
      assert.isDefined(writer)
      assert.strictEqual((yield* Effect.flip(readOperatorFile(fifo, { private: true }))).message, refusal)
    }).pipe(Effect.scoped)
  )

  it.live("a read that blocks in the kernel can still be interrupted: the fiber stops at once", () =>
    Effect.gen(function* () {
      const fifo = fifoIn(yield* tempDir)
      // Reader and writer at once (O_RDWR), so the open returns and the read waits for data that never comes.
      const handle = yield* Effect.promise(() => fsp.open(fifo, fs.constants.O_RDWR))
      const reading = yield* Effect.forkChild(readOpenedFile(handle, fifo))
      yield* Effect.yieldNow
      yield* Fiber.interrupt(reading)
      const exit = yield* Fiber.await(reading)
      assert.isTrue(Exit.hasInterrupts(exit))
      // Let the abandoned kernel read return (it then sees the abort), then close.
      const unblock = yield* Effect.promise(() => fsp.open(fifo, fs.constants.O_WRONLY | fs.constants.O_NONBLOCK))
      yield* Effect.promise(async () => {
        await unblock.write("x")
        await unblock.close()
        await handle.close()
      })
    })
  )
})
