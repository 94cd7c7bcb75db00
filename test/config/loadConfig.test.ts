import * as fs from "node:fs"
import * as path from "node:path"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Result from "effect/Result"
import { ConfigError } from "../../src/config/ConfigError.ts"
import type { PluginFlags } from "../../src/config/flags.ts"
import { PluginConfig } from "../../src/config/PluginConfig.ts"
import { parseConfig } from "../../src/config/parseConfig.ts"
import { noFlags } from "../support/config.ts"
import { withEnv } from "../support/env.ts"
import { tempDir } from "../support/tempDir.ts"

// PluginConfig.load is what PluginConfig.layer runs at start: parseConfig over the flags and the
// process environment, then the one check that needs the disk (can the socket's
// directory hold it). Every failure is a ConfigError (exit code 2).

const fakeFlags = (socketPath: string, more: Partial<PluginFlags> = {}): PluginFlags => ({
  ...noFlags,
  kmsBackend: Option.some("fake"),
  pathToUnixSocket: Option.some(socketPath),
  ...more
})

describe("PluginConfig.load", () => {
  it.effect("valid flags and an existing socket directory give the same config parseConfig does", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const flags = fakeFlags(path.join(dir, "kms.sock"), { socketMode: Option.some("0660") })
      const config = yield* PluginConfig.load(flags)
      assert.deepStrictEqual(config, Result.getOrThrow(parseConfig(flags, process.env)))
      assert.strictEqual(config.socketPath, path.join(dir, "kms.sock"))
      assert.strictEqual(config.socketMode, 0o660)
    })
  )

  it.effect("bad flags fail with the ConfigError naming them, before the disk is looked at", () =>
    Effect.gen(function* () {
      // The socket directory does not exist either, but only the flag problems are reported.
      const error = yield* Effect.flip(
        PluginConfig.load(fakeFlags("/nonexistent-dir-kmsp/kms.sock", { kms: Option.some("v3"), healthzPort: Option.some("x") }))
      )
      assert.instanceOf(error, ConfigError)
      assert.strictEqual(
        error.message,
        '--kms: expected one of v1, v2, both, got "v3"\n--healthz-port: expected a port number 0-65535, got "x"'
      )
    })
  )

  it.effect("a socket directory that does not exist is a --path-to-unix-socket problem, saying what to do", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const missing = path.join(dir, "missing")
      const error = yield* Effect.flip(PluginConfig.load(fakeFlags(path.join(missing, "kms.sock"))))
      assert.instanceOf(error, ConfigError)
      assert.deepStrictEqual(error.problems, [
        {
          flag: "path-to-unix-socket",
          message: `directory ${missing} does not exist; create it (the apiserver must see the same directory)`
        }
      ])
      assert.strictEqual(
        error.message,
        `--path-to-unix-socket: directory ${missing} does not exist; create it (the apiserver must see the same directory)`
      )
    })
  )

  it.effect("a socket 'directory' that is a file is refused", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const file = path.join(dir, "file")
      fs.writeFileSync(file, "")
      const error = yield* Effect.flip(PluginConfig.load(fakeFlags(path.join(file, "kms.sock"))))
      assert.deepStrictEqual(error.problems, [{ flag: "path-to-unix-socket", message: `${file} is not a directory` }])
    })
  )

  it.effect("an abstract socket (@name) needs no directory", () =>
    Effect.gen(function* () {
      const config = yield* PluginConfig.load(fakeFlags("@kmsp-load-config"))
      assert.strictEqual(config.socketPath, "@kmsp-load-config")
    })
  )

  it.effect("reads the process environment when run, not when built (repeatable flags' comma lists)", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const old = "projects/p/locations/global/keyRings/r/cryptoKeys/old"
      const older = "projects/p/locations/global/keyRings/r/cryptoKeys/older"
      const load = PluginConfig.load(fakeFlags(path.join(dir, "kms.sock")))
      yield* withEnv({ KMS_PLUGIN_DECRYPT_KEY_URI: `${old},${older}`, KMS_PLUGIN_DECRYPT_KEY_SUFFIX: "v1" })
      const config = yield* load
      assert.deepStrictEqual(config.decryptKeyUris, [old, older])
      assert.deepStrictEqual(config.decryptKeySuffixes, ["v1"])
    })
  )
})
