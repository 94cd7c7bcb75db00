import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import { loadFakeKeys, saveFakeKeys } from "../../../src/kms/fake/FakeKeyFile.ts"
import { newCryptoKey, rotated, withVersionState } from "../../../src/kms/fake/FakeKeyRing.ts"
import { nobody, runAsNobody } from "../../support/otherUser.ts"
import { tempDir, tempDirWithMode } from "../../support/tempDir.ts"

// The fake backend's key file: what is saved comes back whole; it is only
// ever written through a new file of our own (exclusive create, random name,
// 0600 from the start) renamed into place; and only a regular file of ours
// that nobody else can write is read.

const keyA = "projects/p/locations/l/keyRings/r/cryptoKeys/a"
const loadError = (file: string) => Effect.map(Effect.flip(loadFakeKeys(file)), (error) => error.message)

/** A directory like /tmp: everyone may create files in it, only owners remove theirs. */
const stickyDir = tempDirWithMode(0o1777)

describe("fake key file", () => {
  it.effect("save then load gives back every key, version, state and key material; the file is 0600 and written atomically", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const file = path.join(dir, "keys.json")
      const a = withVersionState(rotated(newCryptoKey(keyA)), 1, "DISABLED") ?? newCryptoKey(keyA)
      const b = newCryptoKey("projects/p/locations/l/keyRings/r/cryptoKeys/b")
      yield* saveFakeKeys(file, [a, b])
      assert.strictEqual(fs.statSync(file).mode & 0o777, 0o600)
      assert.deepStrictEqual(fs.readdirSync(dir), ["keys.json"])
      const loaded = yield* loadFakeKeys(file)
      assert.deepStrictEqual(
        loaded.map((k) => [k.name, k.primary, [...k.versions.keys()]]),
        [
          [a.name, 2, [1, 2]],
          [b.name, 1, [1]]
        ]
      )
      assert.strictEqual(loaded[0]?.versions.get(1)?.state, "DISABLED")
      assert.deepStrictEqual(Buffer.from(loaded[0]?.versions.get(2)?.material ?? []), Buffer.from(a.versions.get(2)?.material ?? []))
      assert.strictEqual(loaded[0]?.versions.get(2)?.key.symmetricKeySize, 32)
    })
  )

  it.effect("a missing file is no keys; malformed files and directories are errors naming the file", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      assert.deepStrictEqual(yield* loadFakeKeys(path.join(dir, "none.json")), [])
      const bad = path.join(dir, "bad.json")
      for (const text of [
        "not json",
        '{"format":2,"keys":[]}',
        '{"format":1,"keys":[{"name":"k","primary":1,"versions":[{"version":1,"material":"short","state":"ENABLED"}]}]}'
      ]) {
        fs.writeFileSync(bad, text, { mode: 0o600 })
        assert.include(yield* loadError(bad), `${bad} is not a fake key file`)
      }
      assert.strictEqual(yield* loadError(dir), `${dir} is a directory, not a regular file`)
    })
  )

  it.effect("a save replaces a key file that was readable by others with one of mode 0600", () =>
    Effect.gen(function* () {
      const file = path.join(yield* tempDir, "keys.json")
      yield* saveFakeKeys(file, [newCryptoKey(keyA)])
      fs.chmodSync(file, 0o644)
      yield* saveFakeKeys(file, [rotated(newCryptoKey(keyA))])
      assert.strictEqual(fs.statSync(file).mode & 0o777, 0o600)
    })
  )

  it.effect(
    "in a directory others can write (sticky, like /tmp), a temp file another uid made at the old predictable name, or a symlink there, changes nothing",
    () =>
      Effect.gen(function* () {
        assert.strictEqual(process.getuid?.(), 0, "this test needs root to act as another uid")
        const dir = yield* stickyDir
        const file = path.join(dir, "keys.json")
        // The old name was .keys.json.<pid>.tmp: another user could create it first...
        const predictable = path.join(dir, `.keys.json.${process.pid}.tmp`)
        runAsNobody(`require("node:fs").writeFileSync(process.argv[1], "theirs", { mode: 0o666 })`, predictable)
        yield* saveFakeKeys(file, [newCryptoKey(keyA)])
        const saved = fs.statSync(file)
        assert.deepStrictEqual([saved.uid, saved.mode & 0o777], [0, 0o600])
        assert.strictEqual(fs.readFileSync(predictable, "utf8"), "theirs")
        assert.strictEqual(fs.statSync(predictable).uid, nobody)
        // ...or make it a symlink to somewhere they want our keys written.
        const elsewhere = path.join(yield* tempDir, "stolen")
        fs.rmSync(predictable)
        runAsNobody(`require("node:fs").symlinkSync(process.argv[2], process.argv[1])`, predictable, elsewhere)
        yield* saveFakeKeys(file, [rotated(newCryptoKey(keyA))])
        assert.isFalse(fs.existsSync(elsewhere), "a key was written through the symlink")
        assert.deepStrictEqual(
          (yield* loadFakeKeys(file)).map((key) => key.primary),
          [2]
        )
        assert.deepStrictEqual(fs.readdirSync(dir).sort(), [predictable, file].map((p) => path.basename(p)).sort())
      })
  )

  it.effect("reads only a regular file of this uid that nobody else can write, and never through a symlink", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const good = path.join(dir, "good.json")
      yield* saveFakeKeys(good, [newCryptoKey(keyA)])
      const link = path.join(dir, "link.json")
      fs.symlinkSync(good, link)
      assert.strictEqual(yield* loadError(link), `${link} is a symbolic link; give the path of the file itself`)
      const writable = path.join(dir, "writable.json")
      fs.copyFileSync(good, writable)
      fs.chmodSync(writable, 0o620)
      assert.strictEqual(yield* loadError(writable), `${writable} can be written by other users (mode 0620); chmod go-w ${writable}`)
      const theirs = path.join(dir, "theirs.json")
      fs.copyFileSync(good, theirs)
      fs.chownSync(theirs, nobody, nobody)
      assert.strictEqual(
        yield* loadError(theirs),
        `${theirs} belongs to uid ${nobody}, not to this process's uid (0); it holds keys: only its owner may have it`
      )
    })
  )

  it.effect("a FIFO is refused at once, not read (a read would wait for a writer for ever)", () =>
    Effect.gen(function* () {
      const fifo = path.join(yield* tempDir, "keys.json")
      execFileSync("mkfifo", ["-m", "0600", fifo])
      assert.strictEqual(yield* loadError(fifo), `${fifo} is a FIFO (named pipe), not a regular file`)
    })
  )
})
