import * as fs from "node:fs"
import * as path from "node:path"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { loadFakeKeys } from "../../../src/kms/fake/FakeKeyFile.ts"
import { fakeKms, keyA, keyB } from "../../support/fakeKmsBackend.ts"
import { tempDir } from "../../support/tempDir.ts"

// Starting the fake backend: the warning an operator cannot miss, where the
// keys live, and --fake-key-file problems as config errors (exit 2).

const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")
const tail = "; for development and tests only, never for a real cluster"

describe("fake backend start", () => {
  it.effect("without --fake-key-file: warns that the keys die with the process", () =>
    Effect.gen(function* () {
      const { lines } = yield* fakeKms()
      assert.deepStrictEqual(lines, [`Warn FAKE KMS BACKEND: keys live in this process and die with it${tail}`])
    }).pipe(Effect.scoped)
  )

  it.effect("with --fake-key-file: warns naming the file, and writes every configured key to it at once", () =>
    Effect.gen(function* () {
      const file = path.join(yield* tempDir, "keys.json")
      const { lines } = yield* fakeKms({ fakeKeyFile: Option.some(file), decryptKeyUri: [keyB] })
      assert.deepStrictEqual(lines, [`Warn FAKE KMS BACKEND: keys live in this process and in ${file}${tail}`])
      assert.deepStrictEqual(
        (yield* loadFakeKeys(file)).map((key) => [key.name, key.primary, [...key.versions.keys()]]),
        [
          [keyA, 1, [1]],
          [keyB, 1, [1]]
        ]
      )
    }).pipe(Effect.scoped)
  )

  it.effect("a key file that cannot be written is a --fake-key-file config error with the reason", () =>
    Effect.gen(function* () {
      const dir = path.join(yield* tempDir, "missing-dir")
      const file = path.join(dir, "keys.json")
      const error = yield* Effect.flip(fakeKms({ fakeKeyFile: Option.some(file) }))
      assert.strictEqual(error._tag, "ConfigError")
      // The temp file's name is random: everything else is exact.
      assert.match(
        error.message,
        new RegExp(
          `^--fake-key-file: cannot save the fake keys to ${escapeRegExp(file)}: ENOENT: no such file or directory, open '${escapeRegExp(dir)}/\\.keys\\.json\\.[0-9a-f]{24}\\.tmp'$`
        )
      )
    }).pipe(Effect.scoped)
  )

  it.effect("a key file that is not one is a --fake-key-file config error naming it", () =>
    Effect.gen(function* () {
      const file = path.join(yield* tempDir, "keys.json")
      fs.writeFileSync(file, "{}")
      const error = yield* Effect.flip(fakeKms({ fakeKeyFile: Option.some(file) }))
      assert.strictEqual(error._tag, "ConfigError")
      assert.match(error.message, new RegExp(`^--fake-key-file: ${escapeRegExp(file)} is not a fake key file: `))
    }).pipe(Effect.scoped)
  )
})
