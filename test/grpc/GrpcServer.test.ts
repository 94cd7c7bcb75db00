import * as fs from "node:fs"
import * as path from "node:path"
import { assert, describe, it } from "@effect/vitest"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as Option from "effect/Option"
import type { PluginFlags } from "../../src/config/flags.ts"
import { PluginConfig } from "../../src/config/PluginConfig.ts"
import { CallObserver } from "../../src/grpc/CallObserver.ts"
import { GrpcServer } from "../../src/grpc/GrpcServer.ts"
import * as FakeKms from "../../src/kms/fake/FakeKms.ts"
import { Shutdown } from "../../src/runtime/Shutdown.ts"
import { configFrom } from "../support/TestPlugin.ts"
import { tempDir } from "../support/tempDir.ts"

// The server's lifecycle as its log tells it, and what it leaves behind.

const runServer = (flags: Partial<PluginFlags>, socketName = "kms.sock") =>
  Effect.gen(function*() {
    const dir = yield* tempDir
    const lines: Array<string> = []
    const capture = Logger.make((options) => {
      lines.push(Array.isArray(options.message) ? options.message.join(" ") : String(options.message))
    })
    const socketPath = path.join(dir, socketName)
    const config = configFrom({ kmsBackend: Option.some("fake"), pathToUnixSocket: Option.some(socketPath), ...flags })
    const { shutdown, target } = yield* Effect.scoped(Effect.gen(function*() {
      const context = yield* Layer.build(GrpcServer.layer.pipe(
        Layer.provide(Layer.mergeAll(FakeKms.layer, CallObserver.layer)),
        Layer.provide(PluginConfig.layerTest(config)),
        Layer.provideMerge(Shutdown.layerTest),
        Layer.provide(Logger.layer([capture]))
      ))
      assert.isTrue(fs.lstatSync(socketPath).isSocket())
      return { shutdown: Context.get(context, Shutdown), target: Context.get(context, GrpcServer) }
    }))
    return { lines, socketPath, target: target.target, forced: yield* shutdown.forcedReason }
  })

describe("gRPC server lifecycle", () => {
  it.live("serves both APIs by default, says where and with which mode, and cleans up when released", () =>
    Effect.gen(function*() {
      const run = yield* runServer({})
      assert.strictEqual(run.target, `unix://${run.socketPath}`)
      assert.include(run.lines, `serving KMS v2 and v1beta1 on unix://${run.socketPath} (mode 0600)`)
      assert.include(run.lines, "shutting down: no new connections, waiting for in-flight calls")
      assert.include(run.lines, `stopped serving on ${run.socketPath}`)
      assert.isFalse(fs.existsSync(run.socketPath))
      assert.isUndefined(run.forced)
    }))

  it.live("names the API it serves with --kms v1 or v2, and the mode it was given", () =>
    Effect.gen(function*() {
      const v2 = yield* runServer({ kms: Option.some("v2"), socketMode: Option.some("0660") })
      assert.include(v2.lines, `serving KMS v2 on unix://${v2.socketPath} (mode 0660)`)
      const v1 = yield* runServer({ kms: Option.some("v1") })
      assert.include(v1.lines, `serving KMS v1beta1 on unix://${v1.socketPath} (mode 0600)`)
    }))
})
