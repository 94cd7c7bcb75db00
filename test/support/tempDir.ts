import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import * as Effect from "effect/Effect"

/** A fresh private directory under the OS temp dir, removed with the scope. Short, for socket paths. */
export const tempDir = Effect.acquireRelease(
  Effect.sync(() => fs.mkdtempSync(path.join(os.tmpdir(), "kmsp-"))),
  (dir) => Effect.sync(() => fs.rmSync(dir, { recursive: true, force: true }))
)

export const makeTempDir = (): string => fs.mkdtempSync(path.join(os.tmpdir(), "kmsp-"))
