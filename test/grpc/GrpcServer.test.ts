import * as fs from "node:fs"
import * as path from "node:path"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type { PluginFlags } from "../../src/config/flags.ts"
import { inProcessPlugin } from "../support/InProcessPlugin.ts"
import { tempDir } from "../support/tempDir.ts"

// The server's lifecycle as its log tells it, and what it leaves behind.

const runServer = (flags: Partial<PluginFlags>, socketName = "kms.sock") =>
  Effect.gen(function* () {
    const socketPath = path.join(yield* tempDir, socketName)
    const served = yield* inProcessPlugin({ flags, socketPath })
    assert.isTrue(fs.lstatSync(socketPath).isSocket())
    yield* served.stop
    return { lines: served.lines, socketPath, target: served.target, forced: yield* served.shutdown.forcedReason }
  })

describe("gRPC server lifecycle", () => {
  it.live("serves both APIs by default, says where and with which mode, and cleans up when released", () =>
    Effect.gen(function* () {
      const run = yield* runServer({})
      assert.strictEqual(run.target, `unix://${run.socketPath}`)
      assert.include(run.lines, `serving KMS v2 and v1beta1 on unix://${run.socketPath} (mode 0600)`)
      assert.include(run.lines, "shutting down: no new connections, waiting for in-flight calls")
      assert.include(run.lines, `stopped serving on ${run.socketPath}`)
      assert.isFalse(fs.existsSync(run.socketPath))
      assert.isUndefined(run.forced)
    })
  )

  it.live("names the API it serves with --kms v1 or v2, and the mode it was given", () =>
    Effect.gen(function* () {
      const v2 = yield* runServer({ kms: Option.some("v2"), socketMode: Option.some("0660") })
      assert.include(v2.lines, `serving KMS v2 on unix://${v2.socketPath} (mode 0660)`)
      const v1 = yield* runServer({ kms: Option.some("v1") })
      assert.include(v1.lines, `serving KMS v1beta1 on unix://${v1.socketPath} (mode 0600)`)
    })
  )
})
