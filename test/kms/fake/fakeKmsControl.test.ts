import * as fs from "node:fs"
import * as path from "node:path"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import { loadFakeKeys } from "../../../src/kms/fake/FakeKeyFile.ts"
import { defectMessage, fakeKms, keyA, keyB } from "../../support/fakeKmsBackend.ts"
import { tempDir } from "../../support/tempDir.ts"

// Driving the fake backend's keys (tests, /fake/rotate): rotation, version
// states and the primary, what Status then reports, and every change on disk.

const limits = { deadline: undefined }
const stored = (file: string) =>
  Effect.map(Effect.orDie(loadFakeKeys(file)), (keys) =>
    keys.map((key) => ({
      name: key.name,
      primary: key.primary,
      states: [...key.versions.values()].map((v) => `${v.version}:${v.state}`)
    }))
  )

describe("fake backend control", () => {
  it.effect("rotate adds the next version and makes it primary: Status and Encrypt use it", () =>
    Effect.gen(function* () {
      const { control, kms } = yield* fakeKms()
      assert.strictEqual(yield* control.rotate(), 2)
      assert.strictEqual(yield* control.rotate(keyA), 3)
      assert.deepStrictEqual(yield* kms.status, { keyVersion: `${keyA}/cryptoKeyVersions/3`, problem: undefined })
      assert.strictEqual((yield* kms.encrypt(Buffer.from("x"), limits)).keyVersion, `${keyA}/cryptoKeyVersions/3`)
    }).pipe(Effect.scoped)
  )

  it.effect("setPrimary goes back to an older version; a disabled primary makes Status report the problem", () =>
    Effect.gen(function* () {
      const { control, kms } = yield* fakeKms()
      yield* control.rotate()
      yield* control.setPrimary(1)
      assert.deepStrictEqual(yield* kms.status, { keyVersion: `${keyA}/cryptoKeyVersions/1`, problem: undefined })
      assert.strictEqual((yield* kms.encrypt(Buffer.from("x"), limits)).keyVersion, `${keyA}/cryptoKeyVersions/1`)
      yield* control.setVersionState(1, "DISABLED")
      assert.deepStrictEqual(yield* kms.status, {
        keyVersion: `${keyA}/cryptoKeyVersions/1`,
        problem: `primary version ${keyA}/cryptoKeyVersions/1 is DISABLED`
      })
      yield* control.setVersionState(1, "ENABLED")
      assert.deepStrictEqual(yield* kms.status, { keyVersion: `${keyA}/cryptoKeyVersions/1`, problem: undefined })
    }).pipe(Effect.scoped)
  )

  it.effect("every change is written to --fake-key-file at once", () =>
    Effect.gen(function* () {
      const file = path.join(yield* tempDir, "keys.json")
      const { control } = yield* fakeKms({ fakeKeyFile: Option.some(file), decryptKeyUri: [keyB] })
      yield* control.rotate()
      assert.deepStrictEqual((yield* stored(file))[0], { name: keyA, primary: 2, states: ["1:ENABLED", "2:ENABLED"] })
      yield* control.setVersionState(1, "DESTROYED")
      assert.deepStrictEqual((yield* stored(file))[0], { name: keyA, primary: 2, states: ["1:DESTROYED", "2:ENABLED"] })
      yield* control.rotate(keyB)
      yield* control.setPrimary(1, keyB)
      assert.deepStrictEqual((yield* stored(file))[1], { name: keyB, primary: 1, states: ["1:ENABLED", "2:ENABLED"] })
    }).pipe(Effect.scoped)
  )

  it.effect("a key file whose primary version is gone: Status says the primary is missing", () =>
    Effect.gen(function* () {
      const file = path.join(yield* tempDir, "keys.json")
      const material = Buffer.alloc(32, 7).toString("base64")
      fs.writeFileSync(
        file,
        JSON.stringify({ format: 1, keys: [{ name: keyA, primary: 5, versions: [{ version: 1, material, state: "ENABLED" }] }] })
      )
      const { kms } = yield* fakeKms({ fakeKeyFile: Option.some(file) })
      assert.deepStrictEqual(yield* kms.status, {
        keyVersion: `${keyA}/cryptoKeyVersions/5`,
        problem: `primary version ${keyA}/cryptoKeyVersions/5 is missing`
      })
    }).pipe(Effect.scoped)
  )

  it.effect("asking for a key or version that does not exist is a defect saying which (a test bug, not a KMS error)", () =>
    Effect.gen(function* () {
      const unknown = "projects/p/locations/global/keyRings/r/cryptoKeys/none"
      const { control } = yield* fakeKms()
      assert.strictEqual(yield* defectMessage(control.rotate(unknown)), `fake kms: no key ${unknown}`)
      assert.strictEqual(yield* defectMessage(control.setVersionState(9, "DISABLED")), `fake kms: ${keyA} has no version 9`)
      assert.strictEqual(yield* defectMessage(control.setPrimary(9)), `fake kms: ${keyA} has no version 9`)
      assert.strictEqual(yield* defectMessage(control.setPrimary(1, unknown)), `fake kms: no key ${unknown}`)
    }).pipe(Effect.scoped)
  )
})
