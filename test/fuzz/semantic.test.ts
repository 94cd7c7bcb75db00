import { assert, describe, it, layer } from "@effect/vitest"
import { status } from "@grpc/grpc-js"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import * as fc from "fast-check"
import type { CallFailed } from "../../src/client/PluginClient.ts"
import { keyVersionName } from "../../src/config/KeyNames.ts"
import { formatKeyId } from "../../src/grpc/KeyId.ts"
import { checkKeyId, maxRequestMessageBytes } from "../../src/grpc/RequestRules.ts"
import { configFrom } from "../support/config.ts"
import { InProcessPlugin } from "../support/InProcessPlugin.ts"
import { checkOptions, codeName, report, runs, Tally, timeoutFor } from "./support/fuzzConfig.ts"
import { Harness } from "./support/harness.ts"
import { mutatedCiphertext, mutatedKeyId } from "./support/mutations.ts"
import { acceptableKeyIds, findEntry, type Pool, type PoolEntry } from "./support/pool.ts"
import { bytesEqual, encodeMessage, len, utf8 } from "./support/protobuf.ts"

// Semantic fuzzing with the typed client: requests that decode fine but carry
// near-miss key_ids, annotations, and ciphertexts. A Decrypt answers the
// original plaintext or an error; never another plaintext, never UNKNOWN.
// OK exactly when the ciphertext is one the plugin made and the key_id is one
// of its accepted spellings for that version (no suffix, --key-suffix, a
// --decrypt-key-suffix) and there are no annotations.

type Answer = Exit.Exit<{ readonly plaintext: Uint8Array }, CallFailed>

const outcomeName = (exit: Answer) => (Exit.isSuccess(exit) ? "OK" : Exit.isFailure(exit) ? failedCode(exit) : "?")

const failedCode = (exit: Exit.Failure<unknown, CallFailed>): string => {
  const error = exit.cause.reasons.find((r) => r._tag === "Fail")
  return error?._tag === "Fail" ? codeName(error.error.code) : "defect"
}

const codeOf = (exit: Answer): number | undefined => {
  if (Exit.isSuccess(exit)) return status.OK
  const error = exit.cause.reasons.find((r) => r._tag === "Fail")
  return error?._tag === "Fail" ? error.error.code : undefined
}

/** Size of the request message the typed client sends. */
const requestSize = (ciphertext: Uint8Array, keyId: string | undefined, annotations: Readonly<Record<string, Uint8Array>> = {}) =>
  encodeMessage([
    len(1, keyId === undefined ? utf8("v1beta1") : ciphertext),
    len(keyId === undefined ? 2 : 3, keyId === undefined ? ciphertext : utf8(keyId)),
    ...Object.entries(annotations).map(([k, v]) => len(4, encodeMessage([len(1, utf8(k)), len(2, v)])))
  ]).length

/** The contract for a Decrypt of `ciphertext` under `keyId` (undefined for v1beta1) without annotations. */
const checkDecrypt = (pool: Pool, ciphertext: Uint8Array, keyId: string | undefined, exit: Answer, what: string) => {
  const entry = findEntry(pool, ciphertext)
  const keyOk = keyId === undefined || (entry !== undefined && acceptableKeyIds(entry.version).includes(keyId))
  const code = codeOf(exit)
  const context =
    `${what}: key_id ${JSON.stringify(keyId)}, ciphertext ${Buffer.from(ciphertext).toString("hex").slice(0, 80)}` +
    ` (${ciphertext.length} bytes)`
  assert.notStrictEqual(code, status.UNKNOWN, `UNKNOWN for ${context}`)
  assert.isDefined(code, `a defect, not a gRPC status, for ${context}`)
  if (requestSize(ciphertext, keyId) > maxRequestMessageBytes) {
    assert.strictEqual(code, status.RESOURCE_EXHAUSTED, `oversized message: ${context}`)
    return
  }
  if (entry !== undefined && keyOk) {
    if (entry.disabled) assert.strictEqual(code, status.FAILED_PRECONDITION, `disabled version: ${context}`)
    else {
      assert.isTrue(Exit.isSuccess(exit), `refused a valid Decrypt (${outcomeName(exit)}): ${context}`)
      if (Exit.isSuccess(exit)) assert.isTrue(bytesEqual(exit.value.plaintext, entry.plaintext), `wrong plaintext for ${context}`)
    }
    return
  }
  assert.isTrue(Exit.isFailure(exit), `decrypted a request that is not valid: ${context}`)
  assert.include([status.INVALID_ARGUMENT, status.FAILED_PRECONDITION], code, `${context}: ${outcomeName(exit)}`)
}

/** A pool index (so a counterexample prints small) and its entry. */
const entryOf = (pool: Pool) => fc.nat({ max: pool.entries.length - 1 })
const at = (pool: Pool, index: number) => pool.entries[index] as PoolEntry

describe("semantic fuzzing with the typed client", () => {
  layer(Harness.layer, { excludeTestServices: true, timeout: "30 seconds" })((it) => {
    const keyIdRuns = runs(600)
    it.effect(
      "mutated key_ids: only the accepted spellings decrypt, to the original plaintext",
      () =>
        Effect.gen(function* () {
          const { pool } = yield* Harness
          const { client } = yield* InProcessPlugin
          const tally = new Tally()
          const arbitrary = entryOf(pool).chain((i) =>
            fc.tuple(
              fc.constant(i),
              fc.oneof(
                { weight: 4, arbitrary: mutatedKeyId(at(pool, i).keyId) },
                { weight: 1, arbitrary: fc.constantFrom(...acceptableKeyIds(at(pool, i).version)) }
              )
            )
          )
          yield* Effect.promise(() =>
            fc.assert(
              fc.asyncProperty(arbitrary, async ([i, keyId]) => {
                const entry = at(pool, i)
                const exit = await Effect.runPromiseExit(client.v2Decrypt({ ciphertext: entry.ciphertext, keyId }))
                tally.add(acceptableKeyIds(entry.version).includes(keyId) ? "accepted spelling" : "mutated key_id", outcomeName(exit))
                checkDecrypt(pool, entry.ciphertext, keyId, exit, "key_id mutation")
              }),
              checkOptions(keyIdRuns)
            )
          )
          report(tally, "key_id mutations")
          assert.isTrue(tally.outcomes().has("OK") && tally.outcomes().has("INVALID_ARGUMENT"), tally.format("key_id mutations"))
        }),
      timeoutFor(keyIdRuns, 5)
    )

    const annotationRuns = runs(300)
    it.effect(
      "random annotations: any annotation at all is refused (the plugin writes none)",
      () =>
        Effect.gen(function* () {
          const { pool } = yield* Harness
          const { client } = yield* InProcessPlugin
          const tally = new Tally()
          const key = fc.oneof(
            fc.domain(),
            fc.domain().map((d) => `${d}.`),
            fc.constantFrom("", ".", "a", "a.b", "A.EXAMPLE.COM", "kms.example.io/remote-kms-auditid", "__proto__", "constructor"),
            fc.string({ unit: "binary", maxLength: 40 }),
            fc.constant(`${"a.".repeat(200)}com`)
          )
          const value = fc.oneof(
            { weight: 5, arbitrary: fc.uint8Array({ maxLength: 64 }) },
            { weight: 1, arbitrary: fc.constant(new Uint8Array(30_000)) }
          )
          const usable = pool.entries.flatMap((e, i) => (e.disabled ? [] : [i]))
          const arbitrary = fc.tuple(
            fc.constantFrom(...usable),
            fc.dictionary(key, value, { minKeys: 0, maxKeys: 6, noNullPrototype: false })
          )
          yield* Effect.promise(() =>
            fc.assert(
              fc.asyncProperty(arbitrary, async ([i, annotations]) => {
                const entry = at(pool, i)
                const exit = await Effect.runPromiseExit(
                  client.v2Decrypt({ ciphertext: entry.ciphertext, keyId: entry.keyId, annotations })
                )
                const none = Object.keys(annotations).length === 0
                tally.add(none ? "no annotations" : "annotations", outcomeName(exit))
                if (none) checkDecrypt(pool, entry.ciphertext, entry.keyId, exit, "no annotations")
                else if (requestSize(entry.ciphertext, entry.keyId, annotations) > maxRequestMessageBytes) {
                  assert.strictEqual(codeOf(exit), status.RESOURCE_EXHAUSTED, "oversized message")
                } else assert.strictEqual(codeOf(exit), status.INVALID_ARGUMENT, `annotations ${JSON.stringify(Object.keys(annotations))}`)
              }),
              checkOptions(annotationRuns)
            )
          )
          report(tally, "annotations")
          assert.isTrue(tally.counts.get("annotations")?.has("INVALID_ARGUMENT"), tally.format("annotations"))
        }),
      timeoutFor(annotationRuns, 5)
    )

    const ciphertextRuns = runs(600)
    it.effect(
      "mutated ciphertexts (bit flips, truncation, extension, splices): never another plaintext, v2 and v1beta1",
      () =>
        Effect.gen(function* () {
          const { pool } = yield* Harness
          const { client } = yield* InProcessPlugin
          const tally = new Tally()
          const others = pool.entries.map((e) => e.ciphertext)
          const arbitrary = entryOf(pool).chain((i) =>
            fc.tuple(fc.constant(i), mutatedCiphertext(at(pool, i).ciphertext, others), fc.boolean())
          )
          yield* Effect.promise(() =>
            fc.assert(
              fc.asyncProperty(arbitrary, async ([i, ciphertext, v1]) => {
                const entry = at(pool, i)
                if (v1) {
                  const exit = await Effect.runPromiseExit(Effect.map(client.v1Decrypt(ciphertext), (r) => ({ plaintext: r.plain })))
                  tally.add("v1beta1", outcomeName(exit))
                  checkDecrypt(pool, ciphertext, undefined, exit, "v1beta1 ciphertext mutation")
                } else {
                  const exit = await Effect.runPromiseExit(client.v2Decrypt({ ciphertext, keyId: entry.keyId }))
                  tally.add("v2", outcomeName(exit))
                  checkDecrypt(pool, ciphertext, entry.keyId, exit, "v2 ciphertext mutation")
                }
              }),
              checkOptions(ciphertextRuns)
            )
          )
          report(tally, "ciphertext mutations")
          assert.isTrue(tally.outcomes().has("INVALID_ARGUMENT"), tally.format("ciphertext mutations"))
        }),
      timeoutFor(ciphertextRuns, 5)
    )

    it.effect("after the fuzzing the plugin still answers Status and Version", () =>
      Effect.gen(function* () {
        const { pool } = yield* Harness
        const { client } = yield* InProcessPlugin
        assert.deepStrictEqual(yield* client.v2Status, { version: "v2", healthz: "ok", keyId: pool.currentKeyId })
        assert.strictEqual((yield* client.v1Version).version, "v1beta1")
      })
    )
  })
})

// Every crypto key name --key-uri accepts (the grammar of src/kms/KeyNames.ts).
const label = (pattern: string) => fc.stringMatching(new RegExp(`^${pattern}$`))
const anyCryptoKey = fc
  .tuple(label("[a-z0-9][a-z0-9.:-]{0,62}"), label("[a-z0-9][a-z0-9-]{0,62}"), label("[A-Za-z0-9_-]{1,63}"), label("[A-Za-z0-9_-]{1,63}"))
  .map(([project, location, ring, key]) => `projects/${project}/locations/${location}/keyRings/${ring}/cryptoKeys/${key}`)
const domainScopedKey = "projects/example.com:kms-test/locations/global/keyRings/ring/cryptoKeys/key"

// A project id may contain ':' (domain-scoped projects such as
// example.com:my-project; --key-uri accepts them). The suffix separator is also
// ':', so a key_id must be split at the right colon, or such keys could never
// be decrypted (a bug this fuzzing found; fixed in src/grpc/KeyId.ts).
describe("key_ids of every accepted --key-uri", () => {
  it("a key_id the plugin hands out is accepted back by checkKeyId, for every key name --key-uri accepts", () => {
    fc.assert(
      fc.property(
        anyCryptoKey,
        fc.integer({ min: 1, max: 2 ** 53 - 1 }),
        fc.option(label("[A-Za-z0-9._-]{1,64}"), { nil: undefined }),
        (key, version, suffix) => {
          const config = configFrom({ keyUri: Option.some(key), keySuffix: suffix === undefined ? Option.none() : Option.some(suffix) })
          const keyVersion = { cryptoKey: key, version }
          const checked = checkKeyId(formatKeyId(keyVersionName(keyVersion), suffix), config)
          assert.deepStrictEqual(checked, { keyVersion, suffix }, `key ${key}`)
        }
      ),
      { ...checkOptions(runs(300)), examples: [[domainScopedKey, 1, undefined]] }
    )
  })

  const domainScoped = InProcessPlugin.layer({ flags: { keyUri: Option.some(domainScopedKey) } })
  layer(domainScoped, { excludeTestServices: true })("a domain-scoped project", (it) => {
    it.effect("Encrypt then Decrypt round-trips with a key in a domain-scoped project (example.com:kms-test)", () =>
      Effect.gen(function* () {
        const { client } = yield* InProcessPlugin
        const encrypted = yield* client.v2Encrypt({ plaintext: Uint8Array.of(1, 2, 3) })
        assert.strictEqual(encrypted.keyId, `${domainScopedKey}/cryptoKeyVersions/1`)
        const decrypted = yield* Effect.exit(client.v2Decrypt({ ciphertext: encrypted.ciphertext, keyId: encrypted.keyId }))
        assert.isTrue(
          Exit.isSuccess(decrypted),
          `its own key_id refused: ${JSON.stringify(Exit.isFailure(decrypted) ? String(decrypted.cause) : "")}`
        )
        if (Exit.isSuccess(decrypted)) assert.deepStrictEqual([...decrypted.value.plaintext], [1, 2, 3])
      })
    )
  })
})
