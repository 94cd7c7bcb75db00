import { randomBytes } from "node:crypto"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { makePluginClient } from "../../src/client/PluginClient.ts"
import { targetOf } from "../../src/grpc/SocketBinding.ts"
import { spawnCli, spawnPlugin } from "../support/spawnPlugin.ts"

// --path-to-unix-socket @name: a Linux abstract socket, as the apiserver's
// unix:///@name endpoint dials. Nothing on disk.

describe("abstract unix socket (the real entrypoint)", () => {
  it.live("serves both APIs on @name to a real client; probe passes; a second instance is refused; SIGTERM exits 0", () =>
    Effect.gen(function* () {
      const name = `@kms-plugin-test-${randomBytes(6).toString("hex")}`
      const plugin = yield* spawnPlugin(["--path-to-unix-socket", name, "--log-format", "text"])
      assert.include(plugin.stderr(), `unix:${name} (abstract)`)
      const client = yield* makePluginClient(targetOf(name), { timeoutMillis: 5_000 })
      const seed = randomBytes(32)
      const encrypted = yield* client.v2Encrypt({ plaintext: seed })
      assert.deepStrictEqual(
        Buffer.from((yield* client.v2Decrypt({ ciphertext: encrypted.ciphertext, keyId: encrypted.keyId })).plaintext),
        seed
      )
      assert.strictEqual((yield* client.v1Version).version, "v1beta1")

      const probe = spawnCli(["probe", "--path-to-unix-socket", name])
      assert.strictEqual((yield* Effect.promise(() => probe.exited)).code, 0, probe.stdout())
      assert.include(probe.stdout(), `probe ${name}`)

      const second = spawnCli(["--kms-backend", "fake", "--healthz-port", "0", "--path-to-unix-socket", name])
      assert.strictEqual((yield* Effect.promise(() => second.exited)).code, 1)
      assert.include(second.stderr(), "another process is serving")

      plugin.child.kill("SIGTERM")
      assert.deepStrictEqual(yield* Effect.promise(() => plugin.exited), { code: 0, signal: null })
      const after = spawnCli(["probe", "--path-to-unix-socket", name, "--timeout", "500ms"])
      assert.strictEqual((yield* Effect.promise(() => after.exited)).code, 1)
    }).pipe(Effect.scoped)
  )
})
