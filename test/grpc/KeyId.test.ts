import { assert, describe, it } from "@effect/vitest"
import * as Option from "effect/Option"
import * as fc from "fast-check"
import { keyVersionName, parseKeyVersionName } from "../../src/config/KeyNames.ts"
import { formatKeyId, maxKeyIdBytes, parseKeyId } from "../../src/grpc/KeyId.ts"
import { checkKeyId } from "../../src/grpc/RequestRules.ts"
import { configFrom } from "../support/config.ts"

const id = fc.stringMatching(/^[A-Za-z0-9_-]{1,63}$/)
// Domain-scoped projects ("example.com:proj") hold a colon, like the suffix separator.
const project = fc.oneof(fc.stringMatching(/^[a-z][a-z0-9-]{5,29}$/), fc.stringMatching(/^[a-z][a-z0-9.]{2,20}:[a-z][a-z0-9-]{5,29}$/))
const cryptoKey = fc
  .tuple(
    project,
    fc.stringMatching(/^[a-z0-9-]{1,20}$/).filter((l) => /^[a-z0-9]/.test(l)),
    id,
    id
  )
  .map(([p, l, r, k]) => `projects/${p}/locations/${l}/keyRings/${r}/cryptoKeys/${k}`)
const version = fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER })
const suffix = fc.option(fc.stringMatching(/^[A-Za-z0-9._-]{1,64}$/), { nil: undefined })

describe("key_id format", () => {
  it("format then parse gives back the key version and suffix", () => {
    fc.assert(
      fc.property(cryptoKey, version, suffix, (key, v, s) => {
        const keyId = formatKeyId(keyVersionName({ cryptoKey: key, version: v }), s)
        assert.deepStrictEqual(parseKeyId(keyId), { keyVersion: { cryptoKey: key, version: v }, suffix: s })
        assert.deepStrictEqual(parseKeyVersionName(keyVersionName({ cryptoKey: key, version: v })), { cryptoKey: key, version: v })
        assert.isAtMost(Buffer.byteLength(keyId), maxKeyIdBytes)
      })
    )
  })

  it("anything that parses formats back to itself (no two spellings of one key_id)", () => {
    fc.assert(
      fc.property(fc.string(), (text) => {
        const parsed = parseKeyId(text)
        if (parsed !== undefined) assert.strictEqual(formatKeyId(keyVersionName(parsed.keyVersion), parsed.suffix), text)
      }),
      { numRuns: 2000 }
    )
  })

  it("checkKeyId accepts exactly the configured keys and suffixes", () => {
    const keyUri = "projects/p1/locations/global/keyRings/r/cryptoKeys/current"
    const oldUri = "projects/p1/locations/global/keyRings/r/cryptoKeys/old"
    const config = configFrom({
      keyUri: Option.some(keyUri),
      decryptKeyUri: [oldUri],
      keySuffix: Option.some("s2"),
      decryptKeySuffix: ["s1"]
    })
    fc.assert(
      fc.property(
        fc.constantFrom(keyUri, oldUri, "projects/p1/locations/global/keyRings/r/cryptoKeys/other"),
        version,
        fc.constantFrom(undefined, "s1", "s2", "s3"),
        (key, v, s) => {
          const result = checkKeyId(formatKeyId(keyVersionName({ cryptoKey: key, version: v }), s), config)
          const allowed = key !== "projects/p1/locations/global/keyRings/r/cryptoKeys/other" && s !== "s3"
          assert.strictEqual("_tag" in result, !allowed)
          if ("_tag" in result) assert.strictEqual(result._tag, "UnknownKey")
        }
      )
    )
  })

  it("a suffix is 1 to 64 of A-Z a-z 0-9 . _ -, the whole of what follows the last colon", () => {
    const name = "projects/p1/locations/global/keyRings/r/cryptoKeys/k/cryptoKeyVersions/7"
    const keyVersion = { cryptoKey: "projects/p1/locations/global/keyRings/r/cryptoKeys/k", version: 7 }
    assert.deepStrictEqual(parseKeyId(`${name}:${"a".repeat(64)}`), { keyVersion, suffix: "a".repeat(64) })
    assert.deepStrictEqual(parseKeyId(`${name}:A.b_c-9`), { keyVersion, suffix: "A.b_c-9" })
    // Anchored at both ends: a valid head or tail is not enough.
    assert.isUndefined(parseKeyId(`${name}:${"a".repeat(65)}`))
    assert.isUndefined(parseKeyId(`${name}:ok!`))
    assert.isUndefined(parseKeyId(`${name}:bad suffix`))
    assert.isUndefined(parseKeyId(`${name}:`))
    fc.assert(
      fc.property(fc.string({ maxLength: 70 }), (text) => {
        assert.strictEqual(parseKeyId(`${name}:${text}`) !== undefined, /^[A-Za-z0-9._-]{1,64}$/.test(text), JSON.stringify(text))
      }),
      { numRuns: 2000 }
    )
  })
})
