import { assert, describe, it } from "@effect/vitest"
import * as Option from "effect/Option"
import * as Result from "effect/Result"
import * as fc from "fast-check"
import { keyUri, messageOf, parse } from "../support/config.ts"

// The keys and key suffixes: --key-uri / --key-suffix, and the repeatable
// --decrypt-key-uri / --decrypt-key-suffix, which an env var can give as a
// comma-separated list (a manifest's env is easier to template than argv).

const old = keyUri.replace("my-key", "old")
const older = keyUri.replace("my-key", "older")

describe("decrypt-only keys and suffixes from the environment", () => {
  it("empty items and spaces around commas are dropped (trailing commas in templates are harmless)", () => {
    const config = Result.getOrThrow(
      parse(
        {},
        {
          KMS_PLUGIN_DECRYPT_KEY_URI: ` ${old} ,, ${older},`,
          KMS_PLUGIN_DECRYPT_KEY_SUFFIX: ",v1, ,v2 ,"
        }
      )
    )
    assert.deepStrictEqual(config.decryptKeyUris, [old, older])
    assert.deepStrictEqual(config.decryptKeySuffixes, ["v1", "v2"])
  })

  it("an empty env var means none", () => {
    const config = Result.getOrThrow(parse({}, { KMS_PLUGIN_DECRYPT_KEY_URI: "", KMS_PLUGIN_DECRYPT_KEY_SUFFIX: " , " }))
    assert.deepStrictEqual(config.decryptKeyUris, [])
    assert.deepStrictEqual(config.decryptKeySuffixes, [])
  })

  it("a bad item from the env is named by its env var", () => {
    assert.strictEqual(
      messageOf({}, { KMS_PLUGIN_DECRYPT_KEY_SUFFIX: "v1,a b" }),
      "KMS_PLUGIN_DECRYPT_KEY_SUFFIX: expected 1-64 letters, digits, '.', '_' or '-', got \"a b\""
    )
  })

  it("the command line replaces the env list, for suffixes too", () => {
    const config = Result.getOrThrow(parse({ decryptKeySuffix: ["v3"] }, { KMS_PLUGIN_DECRYPT_KEY_SUFFIX: "v1,v2" }))
    assert.deepStrictEqual(config.decryptKeySuffixes, ["v3"])
  })

  it("any list of valid suffixes comes back once each, in first-seen order", () => {
    const suffix = fc.stringMatching(/^[A-Za-z0-9._-]{1,64}$/)
    fc.assert(
      fc.property(fc.array(suffix, { maxLength: 8 }), (suffixes) => {
        const config = Result.getOrThrow(parse({}, { KMS_PLUGIN_DECRYPT_KEY_SUFFIX: suffixes.join(",") }))
        assert.deepStrictEqual(config.decryptKeySuffixes, [...new Set(suffixes)])
      })
    )
  })
})

describe("--key-suffix", () => {
  it("absent or empty means no suffix", () => {
    assert.isUndefined(Result.getOrThrow(parse({})).keySuffix)
    assert.isUndefined(Result.getOrThrow(parse({ keySuffix: Option.some("") })).keySuffix)
  })

  it("1 to 64 of letters, digits, '.', '_' and '-' are kept as given", () => {
    assert.strictEqual(Result.getOrThrow(parse({ keySuffix: Option.some("v") })).keySuffix, "v")
    assert.strictEqual(Result.getOrThrow(parse({ keySuffix: Option.some("Rot-2024_01.b") })).keySuffix, "Rot-2024_01.b")
    assert.strictEqual(Result.getOrThrow(parse({ keySuffix: Option.some("x".repeat(64)) })).keySuffix, "x".repeat(64))
    assert.strictEqual(
      messageOf({ keySuffix: Option.some("x".repeat(65)) }),
      `--key-suffix: expected 1-64 letters, digits, '.', '_' or '-', got "${"x".repeat(65)}"`
    )
  })
})

describe("--key-uri with the fake backend", () => {
  it("a given key is used, and must still be a crypto key name", () => {
    assert.strictEqual(Result.getOrThrow(parse({ kmsBackend: Option.some("fake") })).keyUri, keyUri)
    assert.strictEqual(
      messageOf({ kmsBackend: Option.some("fake"), keyUri: Option.some("my-key") }),
      '--key-uri: expected a crypto key name such as projects/my-project/locations/us-east1/keyRings/my-ring/cryptoKeys/my-key, got "my-key"'
    )
  })
})
