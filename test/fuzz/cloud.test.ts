import { assert, describe, layer } from "@effect/vitest"
import { status } from "@grpc/grpc-js"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as fc from "fast-check"
import type { CallFailed } from "../../src/client/PluginClient.ts"
import { maxRequestMessageBytes } from "../../src/grpc/RequestRules.ts"
import { cloudKeyUri, cloudOtherKeyUri, FakeCloud } from "../fakes/FakeCloud.ts"
import { InProcessPlugin } from "../support/InProcessPlugin.ts"
import { checkOptions, codeName, report, runs, Tally, timeoutFor } from "./support/fuzzConfig.ts"
import { mutatedCiphertext, mutatedKeyId } from "./support/mutations.ts"
import { buildVersion1Pool, decryptKeySuffix, keySuffix, type Pool, type PoolEntry } from "./support/pool.ts"
import { bytesEqual, encodeMessage, len, utf8 } from "./support/protobuf.ts"
import { makeRawClient } from "./support/rawGrpc.ts"
import { checkOutcome, malformedCase, randomBytesCase } from "./support/requests.ts"

// The same near misses against the Cloud KMS backend (the real
// @google-cloud/kms client and the fake Cloud KMS server): errors from Cloud
// KMS must map to the same codes, never UNKNOWN or INTERNAL, and a Decrypt
// never returns another plaintext. Unlike the fake backend, the Cloud backend
// does not check the key_id's version number (Cloud KMS picks the version
// from the ciphertext, as the Go plugin relies on), so any version of the
// right key with an accepted suffix decrypts.

const escaped = cloudKeyUri.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")
const acceptedKeyId = new RegExp(`^${escaped}/cryptoKeyVersions/([1-9][0-9]{0,17})(?::(?:${keySuffix}|${decryptKeySuffix}))?$`)
const accepted = (keyId: string) => {
  const match = acceptedKeyId.exec(keyId)
  return match !== null && Number.isSafeInteger(Number(match[1]))
}

const cloudLayer = InProcessPlugin.layer({
  backend: "cloud",
  flags: { keySuffix: Option.some(keySuffix), decryptKeySuffix: [decryptKeySuffix], decryptKeyUri: [cloudOtherKeyUri] }
}).pipe(Layer.provideMerge(FakeCloud.layer))

const buildCloudPool = Effect.flatMap(InProcessPlugin, ({ client }) => buildVersion1Pool(client, 20))

type Answer = Exit.Exit<{ readonly plaintext: Uint8Array }, CallFailed>

const codeOf = (exit: Answer): number | undefined => {
  if (Exit.isSuccess(exit)) return status.OK
  const error = exit.cause.reasons.find((r) => r._tag === "Fail")
  return error?._tag === "Fail" ? error.error.code : undefined
}

const check = (pool: Pool, ciphertext: Uint8Array, keyId: string | undefined, exit: Answer) => {
  const entry = pool.entries.find((e) => bytesEqual(e.ciphertext, ciphertext))
  const code = codeOf(exit)
  const context = `key_id ${JSON.stringify(keyId)}, ciphertext ${Buffer.from(ciphertext).toString("hex").slice(0, 64)} (${ciphertext.length} bytes)`
  assert.isDefined(code, `a defect for ${context}`)
  const size = encodeMessage([len(1, ciphertext), len(3, utf8(keyId ?? "v1beta1"))]).length
  if (size > maxRequestMessageBytes) return assert.strictEqual(code, status.RESOURCE_EXHAUSTED, context)
  if (entry !== undefined && (keyId === undefined || accepted(keyId))) {
    assert.strictEqual(code, status.OK, `refused a valid Decrypt (${codeName(code ?? -1)}): ${context}`)
    if (Exit.isSuccess(exit)) assert.isTrue(bytesEqual(exit.value.plaintext, entry.plaintext), `wrong plaintext: ${context}`)
    return
  }
  assert.include([status.INVALID_ARGUMENT, status.FAILED_PRECONDITION], code, `${codeName(code ?? -1)} for ${context}`)
}

describe("fuzzing the Cloud KMS backend", () => {
  layer(cloudLayer, { excludeTestServices: true, timeout: "30 seconds" })((it) => {
    const nearMisses = runs(200)
    it.effect(
      "near-miss key_ids and ciphertexts, v2 and v1beta1: the right plaintext or INVALID_ARGUMENT",
      () =>
        Effect.gen(function* () {
          const pool = yield* buildCloudPool
          const { client } = yield* InProcessPlugin
          const tally = new Tally()
          const others = pool.entries.map((e) => e.ciphertext)
          const arbitrary = fc.nat({ max: pool.entries.length - 1 }).chain((i) => {
            const entry = pool.entries[i] as PoolEntry
            return fc.tuple(
              fc.oneof(fc.constant(entry.ciphertext), mutatedCiphertext(entry.ciphertext, others)),
              fc.oneof(
                fc.constant(entry.keyId),
                mutatedKeyId(entry.keyId),
                mutatedKeyId(entry.keyId.replace(cloudKeyUri, cloudOtherKeyUri))
              ),
              fc.boolean()
            )
          })
          yield* Effect.promise(() =>
            fc.assert(
              fc.asyncProperty(arbitrary, async ([ciphertext, keyId, v1]) => {
                const exit = v1
                  ? await Effect.runPromiseExit(Effect.map(client.v1Decrypt(ciphertext), (r) => ({ plaintext: r.plain })))
                  : await Effect.runPromiseExit(client.v2Decrypt({ ciphertext, keyId }))
                tally.add(v1 ? "v1beta1" : "v2", codeName(codeOf(exit) ?? -1))
                check(pool, ciphertext, v1 ? undefined : keyId, exit)
              }),
              checkOptions(nearMisses)
            )
          )
          report(tally, "Cloud KMS backend, near misses")
          assert.isTrue(tally.outcomes().has("OK") && tally.outcomes().has("INVALID_ARGUMENT"), tally.format("cloud"))
        }),
      timeoutFor(nearMisses, 20)
    )

    const rawRuns = runs(150)
    it.effect(
      "malformed and random protobuf bytes: never UNKNOWN, INTERNAL only from grpc-js's parser",
      () =>
        Effect.gen(function* () {
          const pool = yield* buildCloudPool
          const { target } = yield* InProcessPlugin
          const raw = yield* makeRawClient(target)
          const tally = new Tally()
          yield* Effect.promise(() =>
            fc.assert(
              fc.asyncProperty(fc.oneof(malformedCase(pool), randomBytesCase), async (c) => {
                const outcome = await raw.call(c.path, c.message)
                tally.add(c.label, codeName(outcome.code))
                await checkOutcome(c, outcome, pool, raw)
              }),
              checkOptions(rawRuns)
            )
          )
          report(tally, "Cloud KMS backend, raw bytes")
        }),
      timeoutFor(rawRuns, 20)
    )
  })
})
