import * as fs from "node:fs"
import * as path from "node:path"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Result from "effect/Result"
import { loadFakeKeys, saveFakeKeys } from "../../../src/kms/fake/FakeKeyFile.ts"
import { newCryptoKey, rotate } from "../../../src/kms/fake/FakeKeyRing.ts"
import { tempDir } from "../../support/tempDir.ts"

describe("fake key file", () => {
  it.effect("save then load gives back every key, version, state and key material; the file is 0600 and written atomically", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const file = path.join(dir, "keys.json")
      const a = newCryptoKey("projects/p/locations/l/keyRings/r/cryptoKeys/a")
      rotate(a)
      const v1 = a.versions.get(1)
      if (v1 !== undefined) v1.state = "DISABLED"
      const b = newCryptoKey("projects/p/locations/l/keyRings/r/cryptoKeys/b")
      saveFakeKeys(file, [a, b])
      assert.strictEqual(fs.statSync(file).mode & 0o777, 0o600)
      assert.deepStrictEqual(fs.readdirSync(dir), ["keys.json"])
      const loaded = Result.getOrThrow(loadFakeKeys(file))
      assert.deepStrictEqual(loaded.map((k) => [k.name, k.primary, [...k.versions.keys()]]), [[a.name, 2, [1, 2]], [b.name, 1, [1]]])
      assert.strictEqual(loaded[0]?.versions.get(1)?.state, "DISABLED")
      assert.deepStrictEqual(Buffer.from(loaded[0]?.versions.get(2)?.material ?? []), Buffer.from(a.versions.get(2)?.material ?? []))
      assert.strictEqual(loaded[0]?.versions.get(2)?.key.symmetricKeySize, 32)
    }))

  it.effect("a missing file is no keys; unreadable or malformed files are errors naming the file", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      assert.deepStrictEqual(loadFakeKeys(path.join(dir, "none.json")), Result.succeed([]))
      const bad = path.join(dir, "bad.json")
      for (const text of ["not json", "{\"format\":2,\"keys\":[]}", "{\"format\":1,\"keys\":[{\"name\":\"k\",\"primary\":1,\"versions\":[{\"version\":1,\"material\":\"short\",\"state\":\"ENABLED\"}]}]}"]) {
        fs.writeFileSync(bad, text)
        const failure = Result.getOrThrow(Result.flip(loadFakeKeys(bad)))
        assert.include(failure, `${bad} is not a fake key file`)
      }
      const failure = Result.getOrThrow(Result.flip(loadFakeKeys(dir)))
      assert.include(failure, `cannot read ${dir}`)
    }))
})
