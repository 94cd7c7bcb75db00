import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as Effect from "effect/Effect"

/** A fresh private directory under the OS temp dir, removed with the scope. Short, for socket paths. */
export const tempDir = Effect.acquireRelease(
  Effect.sync(() => fs.mkdtempSync(path.join(os.tmpdir(), "kmsp-"))),
  (dir) => Effect.sync(() => fs.rmSync(dir, { recursive: true, force: true }))
)

/** The same, with this mode (say 0o755 for another uid to traverse, 0o1777 for a /tmp-like one). */
export const tempDirWithMode = (mode: number) =>
  Effect.map(tempDir, (dir) => {
    fs.chmodSync(dir, mode)
    return dir
  })

export const makeTempDir = (): string => fs.mkdtempSync(path.join(os.tmpdir(), "kmsp-"))
