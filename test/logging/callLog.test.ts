import * as path from "node:path"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { makePluginClient } from "../../src/client/PluginClient.ts"
import { logRecords } from "../support/logRecords.ts"
import { spawnPlugin } from "../support/spawnPlugin.ts"
import { tempDir } from "../support/tempDir.ts"

// --log-level debug: one record per call on the socket (rpc, uid, code,
// seconds; never data). At info, none: only a failed call is logged, as a
// warning. The last call of each run fails, and its warning is written after
// the call's debug record, so once it is on stderr every record is.

const plaintext = new TextEncoder().encode("a data key, never logged")

const calls = (socket: string) =>
  Effect.gen(function* () {
    const client = yield* makePluginClient(`unix://${socket}`, { timeoutMillis: 10_000 })
    yield* client.v2Status
    const wrapped = yield* client.v2Encrypt({ plaintext, uid: "uid-encrypt" })
    yield* client.v2Decrypt({ ciphertext: wrapped.ciphertext, keyId: wrapped.keyId, uid: "uid-decrypt" })
    yield* client.v1Version
    yield* Effect.flip(client.v2Decrypt({ ciphertext: wrapped.ciphertext, keyId: "not-a-key-id", uid: "uid-refused" }))
  }).pipe(Effect.scoped)

const run = (logLevel: string) =>
  Effect.gen(function* () {
    const socket = path.join(yield* tempDir, "kms.sock")
    const plugin = yield* spawnPlugin(["--path-to-unix-socket", socket, "--log-level", logLevel])
    yield* calls(socket)
    yield* Effect.promise(() => plugin.waitForLine(/KMS call failed/))
    return logRecords(plugin.stderr())
  })

describe("per-call log records", () => {
  it.live("--log-level debug: one debug record per call, with rpc, uid, code and seconds only", () =>
    Effect.gen(function* () {
      const records = yield* run("debug")
      const perCall = records.filter((r) => r.msg === "KMS call")
      assert.deepStrictEqual(
        perCall.map(({ code, level, rpc, uid }) => ({ level, rpc, uid, code })),
        [
          { level: "debug", rpc: "v2.Status", uid: "", code: "OK" },
          { level: "debug", rpc: "v2.Encrypt", uid: "uid-encrypt", code: "OK" },
          { level: "debug", rpc: "v2.Decrypt", uid: "uid-decrypt", code: "OK" },
          { level: "debug", rpc: "v1beta1.Version", uid: "", code: "OK" },
          { level: "debug", rpc: "v2.Decrypt", uid: "uid-refused", code: "INVALID_ARGUMENT" }
        ]
      )
      for (const record of perCall) {
        assert.sameMembers(Object.keys(record), ["time", "level", "msg", "rpc", "uid", "code", "seconds"])
        assert.isNumber(record["seconds"])
        assert.isAtLeast(Number(record["seconds"]), 0)
      }
      // The failed call also has its warning, as at any level.
      assert.lengthOf(
        records.filter((r) => r.msg === "KMS call failed"),
        1
      )
      assert.notInclude(JSON.stringify(records), "a data key")
    })
  )

  it.live("--log-level info: no per-call record; the failed call's warning only", () =>
    Effect.gen(function* () {
      const records = yield* run("info")
      assert.deepStrictEqual(
        records.filter((r) => r.msg === "KMS call"),
        []
      )
      assert.deepStrictEqual(
        records.filter((r) => r.msg === "KMS call failed").map(({ code, level, rpc, uid }) => ({ level, rpc, uid, code })),
        [{ level: "warn", rpc: "v2.Decrypt", uid: "uid-refused", code: "INVALID_ARGUMENT" }]
      )
    })
  )
})
