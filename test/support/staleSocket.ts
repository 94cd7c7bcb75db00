import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import { assert } from "@effect/vitest"

/** Leaves a socket at `socketPath` as a process that died without cleaning up does: connecting is refused. */
export const makeStaleSocket = (socketPath: string): void => {
  const result = spawnSync(process.execPath, [
    "-e",
    "require('net').createServer().listen(process.argv[1], () => process.kill(process.pid, 'SIGKILL'))",
    socketPath
  ])
  assert.strictEqual(result.signal, "SIGKILL")
  assert.isTrue(fs.lstatSync(socketPath).isSocket())
}
