import * as path from "node:path"
import { assert } from "@effect/vitest"
import * as grpc from "@grpc/grpc-js"
import * as Effect from "effect/Effect"
import { makePluginClient } from "../../../src/client/PluginClient.ts"
import { type SpawnedPlugin, spawnPlugin } from "../../support/spawnPlugin.ts"
import { tempDir } from "../../support/tempDir.ts"
import { codeName } from "./fuzzConfig.ts"
import { buildVersion1Pool, fuzzPluginArgs, type Pool } from "./pool.ts"
import { decodeLenFields, lastText } from "./protobuf.ts"
import { makeRawClient, type RawClient } from "./rawGrpc.ts"
import { pathOf } from "./requests.ts"

// The real entrypoint as a child process, fuzzed from outside: a crash is an
// exit, and its memory is its own.

/** Status through a brand-new connection, as a new apiserver would ask. */
export const freshStatus = (target: string): Promise<{ code: grpc.status; details: string; keyId?: string; healthz?: string }> =>
  new Promise((resolve) => {
    // Its own subchannel: grpc-js would otherwise reuse another client's connection to the same target.
    const client = new grpc.Client(target, grpc.credentials.createInsecure(), { "grpc.use_local_subchannel_pool": 1 })
    client.makeUnaryRequest<Buffer, Buffer>(
      pathOf("v2.Status"),
      (b) => b,
      (b) => b,
      Buffer.alloc(0),
      { deadline: Date.now() + 5_000 },
      (error, response) => {
        client.close()
        if (error !== null) resolve({ code: error.code, details: error.details })
        else {
          const fields = decodeLenFields(response ?? new Uint8Array(0))
          resolve({ code: grpc.status.OK, details: "", keyId: lastText(fields, 3), healthz: lastText(fields, 2) })
        }
      }
    )
  })

export interface SpawnedHarness {
  readonly plugin: SpawnedPlugin
  readonly socketPath: string
  readonly target: string
  readonly pool: Pool
  readonly raw: RawClient
}

export const assertAlive = async (h: SpawnedHarness, after: string) => {
  const status = await freshStatus(h.target)
  const tail = () => h.plugin.stderr().split("\n").slice(-15).join("\n")
  const { exitCode, signalCode } = h.plugin.child
  assert.isTrue(exitCode === null && signalCode === null, `plugin exited after ${after} (${exitCode ?? signalCode}):\n${tail()}`)
  assert.strictEqual(status.code, grpc.status.OK, `no Status after ${after}: ${codeName(status.code)} ${status.details}\n${tail()}`)
  assert.strictEqual(status.healthz, "ok")
  assert.strictEqual(status.keyId, h.pool.currentKeyId)
}

// V8 grows its heap lazily up to its default limit (gigabytes here), so without a cap RSS climbs for
// thousands of cases and cannot tell a leak from garbage not yet collected. Capping the old space
// makes the collector run; a JavaScript leak then ends in an out-of-memory exit, which the liveness
// checks report. 64 MiB is ample: with it the plugin's RSS levels off about 100 MiB above its start.
const heapCap = "--max-old-space-size=64"

export const withSpawnedPlugin = Effect.gen(function* () {
  const socketPath = path.join(yield* tempDir, "kms.sock")
  const plugin = yield* spawnPlugin(["--path-to-unix-socket", socketPath, ...fuzzPluginArgs], {
    NODE_OPTIONS: `${process.env["NODE_OPTIONS"] ?? ""} ${heapCap}`.trim()
  })
  const target = `unix://${socketPath}`
  const client = yield* makePluginClient(target, { timeoutMillis: 5_000 })
  const pool = yield* buildVersion1Pool(client, 10)
  const raw = yield* makeRawClient(target)
  return { plugin, socketPath, target, pool, raw } satisfies SpawnedHarness
})
