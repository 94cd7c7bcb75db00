import * as fs from "node:fs"
import * as path from "node:path"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { parseKeyVersionName } from "../../../src/config/KeyNames.ts"
import { fakeKms, keyA } from "../../support/fakeKmsBackend.ts"
import { httpPost } from "../../support/http.ts"
import { inProcessPlugin } from "../../support/InProcessPlugin.ts"
import { tempDir } from "../../support/tempDir.ts"

// A key change the fake backend cannot save to --fake-key-file is not made:
// Status and Encrypt stay where they were, the failure is logged and
// /fake/rotate answers 500. Otherwise data wrapped with a version that never
// reached the disk would be lost at the next restart, and that version's
// number handed out again for other key material.

const limits = { deadline: undefined }
const version = (n: number) => `${keyA}/cryptoKeyVersions/${n}`
const versionOf = (name: string) => {
  const parsed = parseKeyVersionName(name)
  if (parsed === undefined) throw new Error(`not a key version: ${name}`)
  return parsed
}

/** Makes every save fail: the key file is moved aside and a directory takes its place (root ignores file modes). */
const breakSaves = (file: string) => {
  fs.renameSync(file, `${file}.kept`)
  fs.mkdirSync(file)
}
const repairSaves = (file: string) => {
  fs.rmdirSync(file)
  fs.renameSync(`${file}.kept`, file)
}

describe("fake backend: a change that cannot be saved is not made", () => {
  it.effect(
    "rotation: 500 and an error log; Status and Encrypt stay; after a restart all data decrypts and the next version is fresh",
    () =>
      Effect.gen(function* () {
        const dir = yield* tempDir
        const file = path.join(dir, "keys.json")
        const written = yield* Effect.scoped(
          Effect.gen(function* () {
            const { control, kms, lines, logged, routes } = yield* fakeKms({ fakeKeyFile: Option.some(file) })
            assert.strictEqual(yield* control.rotate(), 2)
            const before = yield* kms.encrypt(Buffer.from("before"), limits)
            breakSaves(file)
            const rotateRoute = routes.find((route) => route.path === "/fake/rotate")
            const answer = yield* logged(rotateRoute?.handle ?? Effect.die("no /fake/rotate route"))
            assert.strictEqual(answer.status, 500)
            assert.match(answer.body, new RegExp(`^rotation of ${keyA} not made: cannot save the fake keys to ${file}: EISDIR`))
            assert.deepStrictEqual(
              lines.filter((line) => line.startsWith("Error ")),
              [`Error fake kms: ${answer.body.trim()}`]
            )
            // Nothing moved, and no other change can be made meanwhile either.
            assert.deepStrictEqual(yield* kms.status, { keyVersion: version(2), problem: undefined })
            const after = yield* kms.encrypt(Buffer.from("after"), limits)
            assert.strictEqual(after.keyVersion, version(2))
            const refused = yield* Effect.flip(control.setVersionState(1, "DISABLED"))
            assert.strictEqual(refused._tag, "KeysNotSaved")
            assert.deepStrictEqual([...fs.readdirSync(dir)].sort(), ["keys.json", "keys.json.kept"], "a temp file was left behind")
            assert.deepStrictEqual(fs.readdirSync(file), [])
            // The log says why, never with key material.
            const stored = fs.readFileSync(`${file}.kept`, "utf8")
            for (const material of stored.match(/[A-Za-z0-9+/]{43}=/g) ?? []) {
              assert.notInclude(lines.join("\n"), material)
            }
            return { before, after }
          })
        )
        repairSaves(file)
        // The restart: the same version, and everything written before decrypts.
        const { control, kms } = yield* fakeKms({ fakeKeyFile: Option.some(file) })
        assert.deepStrictEqual(yield* kms.status, { keyVersion: version(2), problem: undefined })
        for (const [plaintext, sealed] of [
          ["before", written.before],
          ["after", written.after]
        ] as const) {
          const opened = yield* kms.decrypt(sealed.ciphertext, versionOf(sealed.keyVersion), limits)
          assert.strictEqual(Buffer.from(opened).toString(), plaintext)
        }
        assert.strictEqual(yield* control.rotate(), 3)
        const next = yield* kms.encrypt(Buffer.from("next"), limits)
        assert.strictEqual(next.keyVersion, version(3))
        assert.strictEqual(Buffer.from(yield* kms.decrypt(written.after.ciphertext, versionOf(version(2)), limits)).toString(), "after")
      }).pipe(Effect.scoped)
  )

  it.effect("setPrimary and setVersionState: refused the same way, the old state kept", () =>
    Effect.gen(function* () {
      const file = path.join(yield* tempDir, "keys.json")
      const { control, kms } = yield* fakeKms({ fakeKeyFile: Option.some(file) })
      yield* control.rotate()
      breakSaves(file)
      assert.strictEqual((yield* Effect.flip(control.setPrimary(1))).message.split(":")[0], `making version 1 primary of ${keyA} not made`)
      assert.strictEqual(
        (yield* Effect.flip(control.setVersionState(2, "DISABLED"))).message.split(":")[0],
        `setting version 2 DISABLED of ${keyA} not made`
      )
      assert.deepStrictEqual(yield* kms.status, { keyVersion: version(2), problem: undefined })
      repairSaves(file)
      yield* control.setPrimary(1)
      assert.deepStrictEqual(yield* kms.status, { keyVersion: version(1), problem: undefined })
    }).pipe(Effect.scoped)
  )

  it.live("over HTTP: POST /fake/rotate answers 500 with the reason, and the plugin keeps serving the old version", () =>
    Effect.gen(function* () {
      const file = path.join(yield* tempDir, "keys.json")
      const plugin = yield* inProcessPlugin({
        health: true,
        flags: { keyUri: Option.some(keyA), fakeKeyFile: Option.some(file) },
        clientTimeoutMillis: 5_000
      })
      const { client } = plugin
      breakSaves(file)
      const answer = yield* httpPost(`${plugin.url}/fake/rotate`)
      assert.strictEqual(answer.status, 500)
      assert.match(answer.body, new RegExp(`^rotation of ${keyA} not made: cannot save the fake keys to ${file}: `))
      assert.strictEqual((yield* client.v2Status).keyId, version(1))
      assert.strictEqual((yield* client.v2Encrypt({ plaintext: Buffer.from("x") })).keyId, version(1))
    }).pipe(Effect.scoped)
  )
})
