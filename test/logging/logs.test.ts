import * as path from "node:path"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Schema from "effect/Schema"
import { makePluginClient } from "../../src/client/PluginClient.ts"
import { spawnPlugin } from "../support/spawnPlugin.ts"
import { tempDir } from "../support/tempDir.ts"

const LogLine = Schema.Struct({ time: Schema.String, level: Schema.String, msg: Schema.String })
const FailedCall = Schema.Struct({
  msg: Schema.Literal("KMS call failed"),
  rpc: Schema.String,
  uid: Schema.String,
  code: Schema.String,
  cause: Schema.String
})

describe("logs (the real entrypoint)", () => {
  it.live("JSON lines with time, level and msg; one line per failed call with rpc, uid, code and cause; never a plaintext", () =>
    Effect.gen(function* () {
      const socket = path.join(yield* tempDir, "kms.sock")
      const plugin = yield* spawnPlugin(["--path-to-unix-socket", socket])
      const client = yield* makePluginClient(`unix://${socket}`, { timeoutMillis: 5_000 })
      const marker = "PLAINTEXT-MARKER-7f3a9c"
      const secret = Buffer.from(marker.repeat(10))
      const encrypted = yield* client.v2Encrypt({ plaintext: secret, uid: "uid-ok" })
      yield* client.v2Decrypt({ ciphertext: encrypted.ciphertext, keyId: encrypted.keyId, uid: "uid-ok-2" })
      // Failures of every kind, each carrying the marker somewhere in the request.
      yield* Effect.flip(client.v2Encrypt({ plaintext: Buffer.concat([secret, Buffer.alloc(70_000)]), uid: "uid-too-big" }))
      const tampered = Buffer.from(encrypted.ciphertext)
      tampered[tampered.length - 1] = (tampered[tampered.length - 1] ?? 0) ^ 1
      yield* Effect.flip(client.v2Decrypt({ ciphertext: tampered, keyId: encrypted.keyId, uid: "uid-tampered" }))
      yield* Effect.flip(
        client.v2Decrypt({ ciphertext: encrypted.ciphertext, keyId: `${encrypted.keyId}:other-suffix`, uid: "uid-suffix" })
      )
      yield* Effect.flip(client.v2Decrypt({ ciphertext: secret, keyId: encrypted.keyId, uid: "uid-junk" }))
      yield* Effect.flip(client.v1Decrypt(secret))
      // The v1beta1 Decrypt failure is the last call: wait for its log line, then stop.
      yield* Effect.promise(() => plugin.waitForLine(/"rpc":"v1beta1.Decrypt"/))
      plugin.child.kill("SIGTERM")
      yield* Effect.promise(() => plugin.exited)

      const lines = plugin.stderr().trim().split("\n")
      const records = lines.map((line) => JSON.parse(line) as unknown)
      for (const record of records) Schema.decodeUnknownSync(LogLine)(record)
      const failures = records.filter((r) => Schema.is(FailedCall)(r)).map((r) => Schema.decodeUnknownSync(FailedCall)(r))
      assert.deepStrictEqual(
        failures.map((f) => [f.rpc, f.uid, f.code]),
        [
          ["v2.Encrypt", "uid-too-big", "INVALID_ARGUMENT"],
          ["v2.Decrypt", "uid-tampered", "INVALID_ARGUMENT"],
          ["v2.Decrypt", "uid-suffix", "INVALID_ARGUMENT"],
          ["v2.Decrypt", "uid-junk", "INVALID_ARGUMENT"],
          ["v1beta1.Decrypt", "", "INVALID_ARGUMENT"]
        ]
      )
      assert.isTrue(failures.every((f) => f.cause.length > 0))
      assert.notInclude(plugin.stderr(), marker, "a plaintext reached the log")
      assert.notInclude(plugin.stderr(), secret.toString("base64").slice(0, 24))
      const start = records.find((r) => typeof r === "object" && r !== null && "msg" in r && r.msg === "starting")
      assert.isDefined(start, "one line at start with the effective config")
    }).pipe(Effect.scoped)
  )
})
