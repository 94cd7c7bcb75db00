import * as fs from "node:fs"
import * as path from "node:path"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { runAsNobody } from "../support/otherUser.ts"
import { spawnPlugin } from "../support/spawnPlugin.ts"
import { tempDirWithMode } from "../support/tempDir.ts"

// Who may talk to the plugin: the socket's owner (and root), unless
// --socket-mode widens it. Checked with a real process of another uid.

/** Connects to `socket` as uid/gid 65534; returns the error code, or "connected". */
const connectAsNobody = (socket: string): string =>
  runAsNobody(
    `
    const s = require("node:net").connect({ path: process.argv[1] })
    s.on("connect", () => { process.stdout.write("connected"); s.destroy() })
    s.on("error", (e) => process.stdout.write(e.code ?? e.message))`,
    socket
  )

/** A directory another uid may traverse, so only the socket's own mode decides. */
const openDir = tempDirWithMode(0o755)

describe("socket permissions (the real entrypoint)", () => {
  it.live("the socket is born 0600: the first time it exists, its mode is already 0600", () =>
    Effect.gen(function* () {
      const dir = yield* openDir
      const socket = path.join(dir, "kms.sock")
      const modes: Array<number> = []
      let seen = () => {}
      const appeared = new Promise<void>((resolve) => {
        seen = resolve
      })
      const watcher = fs.watch(dir, (_event, name) => {
        if (name !== "kms.sock") return
        const stat = fs.lstatSync(socket, { throwIfNoEntry: false })
        if (stat !== undefined) modes.push(stat.mode & 0o777)
        seen()
      })
      yield* Effect.addFinalizer(() => Effect.sync(() => watcher.close()))
      yield* spawnPlugin(["--path-to-unix-socket", socket])
      // The plugin's "serving" line and the directory's change are two events: wait for the second too.
      yield* Effect.promise(() => appeared)
      assert.isAbove(modes.length, 0, "never saw the socket appear")
      assert.deepStrictEqual([...new Set(modes)], [0o600])
    }).pipe(Effect.scoped)
  )

  it.live("a process of another uid cannot connect to a 0600 socket", () =>
    Effect.gen(function* () {
      assert.strictEqual(process.getuid?.(), 0, "this test needs root to run a child as another uid")
      const socket = path.join(yield* openDir, "kms.sock")
      yield* spawnPlugin(["--path-to-unix-socket", socket])
      assert.strictEqual(connectAsNobody(socket), "EACCES")
    }).pipe(Effect.scoped)
  )

  it.live("--socket-mode 0666 lets it in (so the test above can fail)", () =>
    Effect.gen(function* () {
      const socket = path.join(yield* openDir, "kms.sock")
      yield* spawnPlugin(["--path-to-unix-socket", socket, "--socket-mode", "0666"])
      assert.strictEqual(connectAsNobody(socket), "connected")
    }).pipe(Effect.scoped)
  )
})
