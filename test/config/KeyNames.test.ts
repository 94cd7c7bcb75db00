import { assert, describe, it } from "@effect/vitest"
import { isCryptoKeyName, keyVersionName, parseKeyVersionName } from "../../src/config/KeyNames.ts"

const key = "projects/p1/locations/us-east1/keyRings/ring/cryptoKeys/key"

describe("Cloud KMS resource names", () => {
  it("crypto key names: each segment within its alphabet and length", () => {
    assert.isTrue(isCryptoKeyName(key))
    assert.isTrue(isCryptoKeyName("projects/example.com:p-1/locations/global/keyRings/R_1-x/cryptoKeys/K_2"))
    assert.isTrue(isCryptoKeyName(`projects/${"p".repeat(63)}/locations/l/keyRings/${"r".repeat(63)}/cryptoKeys/${"k".repeat(63)}`))
    for (const bad of [
      `projects/${"p".repeat(64)}/locations/l/keyRings/r/cryptoKeys/k`,
      `projects/p/locations/l/keyRings/${"r".repeat(64)}/cryptoKeys/k`,
      `projects/p/locations/l/keyRings/r/cryptoKeys/${"k".repeat(64)}`,
      "projects/P/locations/l/keyRings/r/cryptoKeys/k",
      "projects/p/locations/L/keyRings/r/cryptoKeys/k",
      "projects/-p/locations/l/keyRings/r/cryptoKeys/k",
      "projects/p/locations/l/keyRings/r.s/cryptoKeys/k",
      "projects/p/locations/l/keyRings//cryptoKeys/k",
      `${key}/`,
      `x${key}`,
      `${key}/cryptoKeyVersions/1`
    ])
      assert.isFalse(isCryptoKeyName(bad), bad)
  })

  it("version names: positive integers without leading zeros, up to 18 digits", () => {
    assert.deepStrictEqual(parseKeyVersionName(`${key}/cryptoKeyVersions/1`), { cryptoKey: key, version: 1 })
    assert.deepStrictEqual(parseKeyVersionName(`${key}/cryptoKeyVersions/123456789012345`), { cryptoKey: key, version: 123456789012345 })
    for (const bad of ["0", "01", "-1", "1.0", "x", "", "1".repeat(19), "9".repeat(18)]) {
      assert.isUndefined(parseKeyVersionName(`${key}/cryptoKeyVersions/${bad}`), bad)
    }
    assert.isUndefined(parseKeyVersionName(`${key}/cryptoKeyVersions/1/x`))
    assert.isUndefined(parseKeyVersionName(`x${key}/cryptoKeyVersions/1`))
    assert.strictEqual(keyVersionName({ cryptoKey: key, version: 7 }), `${key}/cryptoKeyVersions/7`)
  })
})
