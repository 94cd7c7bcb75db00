import * as path from "node:path"
import { assert, describe, it } from "@effect/vitest"
import * as grpc from "@grpc/grpc-js"
import * as Effect from "effect/Effect"
import * as fc from "fast-check"
import { tempDir } from "../support/tempDir.ts"
import { acceptableKeyIds, keySuffix, type Pool, versionName } from "./support/pool.ts"
import { encodeMessage, len, patternBytes, utf8 } from "./support/protobuf.ts"
import { makeRawClient } from "./support/rawGrpc.ts"
import { checkOutcome, type FuzzCase, limitCase, type Method, methods, pathOf, wellFormedCase } from "./support/requests.ts"

// The fuzzers' oracle, pointed at a sabotaged server: each kind of breakage
// the fuzzers look for (UNKNOWN, a hang, a wrong plaintext, OK for a request
// that cannot be valid, INTERNAL from a defect, an oversized message taken)
// must make the property fail. This keeps the fuzz tests able to fail.

type Handler = (request: Buffer, reply: grpc.sendUnaryData<Buffer>) => void

const rawMethod = (method: Method): grpc.MethodDefinition<Buffer, Buffer> => ({
  path: pathOf(method),
  requestStream: false,
  responseStream: false,
  requestSerialize: (b: Buffer) => b,
  requestDeserialize: (b: Buffer) => b,
  responseSerialize: (b: Buffer) => b,
  responseDeserialize: (b: Buffer) => b
})

/** A server for every method of both APIs, all answered by `handler`; its target, closed with the scope. */
const sabotaged = (handler: Handler) =>
  Effect.gen(function* () {
    const socket = path.join(yield* tempDir, "stub.sock")
    const server = yield* Effect.acquireRelease(
      Effect.sync(() => new grpc.Server({ "grpc.max_receive_message_length": 8 * 1024 * 1024 })),
      (server) => Effect.sync(() => server.forceShutdown())
    )
    const definition = Object.fromEntries(methods.map((m) => [m, rawMethod(m)]))
    const implementation = Object.fromEntries(
      methods.map((m) => [
        m,
        (call: grpc.ServerUnaryCall<Buffer, Buffer>, reply: grpc.sendUnaryData<Buffer>) => handler(call.request, reply)
      ])
    )
    server.addService(definition, implementation)
    yield* Effect.callback<void>((resume) => {
      server.bindAsync(`unix://${socket}`, grpc.ServerCredentials.createInsecure(), (error) => {
        if (error !== null) throw error
        resume(Effect.void)
      })
    })
    return `unix://${socket}`
  })

// A pool as the real plugin would have it; the stub never looks at it.
const pool: Pool = {
  entries: [1, 2].map((version) => ({
    plaintext: patternBytes(32, version),
    ciphertext: patternBytes(60, 100 + version),
    keyId: `${versionName(version)}:${keySuffix}`,
    version,
    disabled: false,
    api: "v2" as const
  })),
  currentKeyId: `${versionName(2)}:${keySuffix}`,
  versions: [1, 2]
}

const statusResponse = encodeMessage([len(1, utf8("v2")), len(2, utf8("ok")), len(3, utf8(pool.currentKeyId))])

/** Runs the property against the stub; resolves with the failure message (the property must fail). */
const failureOf = (target: string, cases: fc.Arbitrary<FuzzCase>, deadlineMillis = 5_000) =>
  Effect.gen(function* () {
    const raw = yield* makeRawClient(target)
    return yield* Effect.promise(() =>
      fc
        .assert(
          fc.asyncProperty(cases, async (c) => checkOutcome(c, await raw.call(c.path, c.message, deadlineMillis), pool, raw)),
          { numRuns: 100, endOnFailure: true }
        )
        .then(
          () => "the property passed",
          (error: unknown) => (error instanceof Error && error.cause instanceof Error ? error.cause.message : String(error))
        )
    )
  })

const casesOf = (method: Method, kind?: FuzzCase["expect"]["kind"]) =>
  wellFormedCase(pool).filter((c) => c.path === pathOf(method) && (kind === undefined || c.expect.kind === kind))

describe("the fuzz oracle fails on a sabotaged server", () => {
  it.live("a handler that throws (grpc-js answers UNKNOWN)", () =>
    Effect.gen(function* () {
      const target = yield* sabotaged(() => {
        throw new Error("boom")
      })
      assert.match(yield* failureOf(target, casesOf("v2.Status")), /UNKNOWN status/)
    })
  )

  it.live("a call that never answers", () =>
    Effect.gen(function* () {
      const target = yield* sabotaged(() => {})
      assert.match(yield* failureOf(target, casesOf("v2.Encrypt"), 200), /no answer before the deadline/)
    })
  )

  it.live("a Decrypt that returns another plaintext", () =>
    Effect.gen(function* () {
      const target = yield* sabotaged((_, reply) => reply(null, Buffer.from(encodeMessage([len(1, utf8("not the plaintext"))]))))
      assert.match(yield* failureOf(target, casesOf("v2.Decrypt", "ok")), /decrypted to another plaintext/)
    })
  )

  it.live("a Decrypt that accepts a key_id the plugin must refuse", () =>
    Effect.gen(function* () {
      const entry = pool.entries[0]
      if (entry === undefined) throw new Error("empty pool")
      const target = yield* sabotaged((_, reply) => reply(null, Buffer.from(encodeMessage([len(1, entry.plaintext)]))))
      const wrongKeyIds = fc.constantFrom(`${versionName(1)}:s9`, `${versionName(9)}`, "").map(
        (keyId): FuzzCase => ({
          label: "wrong key_id",
          path: pathOf("v2.Decrypt"),
          message: encodeMessage([len(1, entry.ciphertext), len(3, utf8(keyId))]),
          expect: { kind: "refused", codes: [grpc.status.INVALID_ARGUMENT] },
          undecodableAllowed: false
        })
      )
      assert.notInclude(acceptableKeyIds(1), `${versionName(1)}:s9`)
      assert.match(yield* failureOf(target, wrongKeyIds), /expected one of INVALID_ARGUMENT/)
    })
  )

  it.live("INTERNAL from a defect rather than from grpc-js's parser", () =>
    Effect.gen(function* () {
      const target = yield* sabotaged((_, reply) =>
        reply({ code: grpc.status.INTERNAL, details: "internal error in the KMS plugin; see its log" })
      )
      assert.match(yield* failureOf(target, casesOf("v1beta1.Encrypt")), /INTERNAL other than grpc-js's parse failure/)
    })
  )

  it.live("a message over the size limit taken instead of refused", () =>
    Effect.gen(function* () {
      const target = yield* sabotaged((_, reply) => reply(null, Buffer.from(statusResponse)))
      const oversized = limitCase(pool).filter((c) => c.expect.kind === "code" && c.expect.code === grpc.status.RESOURCE_EXHAUSTED)
      assert.match(yield* failureOf(target, oversized), /must be RESOURCE_EXHAUSTED/)
    })
  )
})
