import * as http2 from "node:http2"
import * as net from "node:net"
import { assert, describe, layer } from "@effect/vitest"
import { status } from "@grpc/grpc-js"
import * as Effect from "effect/Effect"
import * as fc from "fast-check"
import { maxCiphertextBytes, maxPlaintextBytes, maxRequestMessageBytes } from "../../src/grpc/RequestRules.ts"
import { codeName, report, runs, Tally, timeoutFor } from "./support/fuzzConfig.ts"
import { fuzzCases, Harness, stillServing } from "./support/harness.ts"
import { acceptableKeyIds, type PoolEntry } from "./support/pool.ts"
import { encodeMessage, len, padTo, patternBytes, utf8, type WireField } from "./support/protobuf.ts"
import {
  checkOutcome,
  type Expect,
  type FuzzCase,
  invalidUtf8Case,
  limitCase,
  type Method,
  malformedCase,
  methods,
  pathOf,
  randomBytesCase,
  unknownPathCase,
  wellFormedCase
} from "./support/requests.ts"

// Structured fuzzing at the protobuf level: every RPC of both APIs gets
// requests built byte by byte (see support/requests.ts for the generators and
// the oracle). Every answer must come before its deadline, never be UNKNOWN,
// be exactly the predicted one for a well-formed request, and an OK must be
// right (a Decrypt gives the plaintext that was encrypted, an Encrypt
// round-trips). grpc-js answers INTERNAL "Error deserializing request" when
// protobufjs cannot parse the message (bad wire type, length past the end,
// truncated or overlong varint, groups nested too deep); that is the only
// INTERNAL allowed, and never for a well-formed message.

/** Every code the plugin may answer on its socket (DEADLINE_EXCEEDED, UNAVAILABLE, UNKNOWN: never). */
const allowedCodes = new Set(
  [status.OK, status.INVALID_ARGUMENT, status.RESOURCE_EXHAUSTED, status.UNIMPLEMENTED, status.FAILED_PRECONDITION, status.INTERNAL].map(
    codeName
  )
)

const assertCodes = (tally: Tally, mustSee: ReadonlyArray<status>) => {
  const seen = tally.outcomes()
  assert.deepStrictEqual(
    [...seen].filter((code) => !allowedCodes.has(code)),
    [],
    "codes outside the allowed set"
  )
  // Each property must reach the outcomes it is there for, or it fuzzes nothing.
  assert.deepStrictEqual(
    mustSee.map(codeName).filter((code) => !seen.has(code)),
    [],
    `outcomes never reached: ${tally.format("so far")}`
  )
}

const all = new Tally()

describe("structured fuzzing of both APIs (raw protobuf bytes)", () => {
  layer(Harness.layer, { excludeTestServices: true, timeout: "30 seconds" })((it) => {
    const wellFormed = runs(500)
    it.effect(
      "well-formed requests: arbitrary field values, unknown and repeated fields, any order",
      () =>
        Effect.gen(function* () {
          const { pool } = yield* Harness
          const tally = new Tally()
          yield* fuzzCases(wellFormedCase(pool), wellFormed, tally)
          yield* stillServing
          report(tally, "well-formed requests")
          assertCodes(tally, [status.OK, status.INVALID_ARGUMENT, status.FAILED_PRECONDITION])
          mergeInto(all, tally)
        }),
      timeoutFor(wellFormed, 8)
    )

    const malformed = runs(400)
    it.effect(
      "malformed encodings: wrong wire types, truncations, lengths past the end, bad varints, deep groups",
      () =>
        Effect.gen(function* () {
          const { pool } = yield* Harness
          const tally = new Tally()
          yield* fuzzCases(malformedCase(pool), malformed, tally)
          yield* stillServing
          report(tally, "malformed encodings")
          assertCodes(tally, [status.OK, status.INVALID_ARGUMENT, status.INTERNAL])
          mergeInto(all, tally)
        }),
      timeoutFor(malformed, 8)
    )

    const utf8Runs = runs(150)
    it.effect(
      "invalid UTF-8 in string fields (uid, key_id, version)",
      () =>
        Effect.gen(function* () {
          const { pool } = yield* Harness
          const tally = new Tally()
          yield* fuzzCases(invalidUtf8Case(pool), utf8Runs, tally)
          yield* stillServing
          report(tally, "invalid UTF-8")
          assertCodes(tally, [status.INVALID_ARGUMENT])
          mergeInto(all, tally)
        }),
      timeoutFor(utf8Runs, 8)
    )

    const random = runs(300)
    it.effect(
      "random bytes to every method and to unknown paths",
      () =>
        Effect.gen(function* () {
          const { pool } = yield* Harness
          const tally = new Tally()
          yield* fuzzCases(
            fc.oneof({ weight: 4, arbitrary: randomBytesCase }, { weight: 1, arbitrary: unknownPathCase(pool) }),
            random,
            tally
          )
          yield* stillServing
          report(tally, "random bytes and unknown paths")
          assertCodes(tally, [status.OK, status.INTERNAL, status.UNIMPLEMENTED])
          mergeInto(all, tally)
        }),
      timeoutFor(random, 5)
    )

    const limits = runs(60)
    it.effect(
      "messages just under, at and over the size limit, and of a few MiB",
      () =>
        Effect.gen(function* () {
          const { pool } = yield* Harness
          const tally = new Tally()
          yield* fuzzCases(limitCase(pool), limits, tally)
          yield* stillServing
          report(tally, "size limits")
          assertCodes(tally, [status.OK, status.RESOURCE_EXHAUSTED])
          mergeInto(all, tally)
        }),
      timeoutFor(limits, 40)
    )

    it.effect("field sizes at the limits, each with its exact answer", () =>
      Effect.gen(function* () {
        const { pool, raw } = yield* Harness
        const real = pool.entries.find((e) => e.api === "v2" && !e.disabled && e.plaintext.length < 64) as PoolEntry
        const keyId = real.keyId
        const tally = new Tally()
        const exact = (label: string, method: Method, fields: ReadonlyArray<WireField>, expect: Expect): FuzzCase => ({
          label,
          path: pathOf(method),
          message: encodeMessage(fields),
          expect,
          undecodableAllowed: false
        })
        const okWith = (plaintext?: Uint8Array): Expect => ({ kind: "ok", plaintext })
        const code = (c: status): Expect => ({ kind: "code", code: c })
        const entries = (n: number, key: (i: number) => string, value: Uint8Array) =>
          Array.from({ length: n }, (_, i) => len(4, encodeMessage([len(1, utf8(key(i))), len(2, value)])))
        const cases: Array<FuzzCase> = [
          ...[0, 1, maxPlaintextBytes, maxPlaintextBytes + 1].flatMap((size) => {
            const plaintext = patternBytes(size, size)
            const expect = size >= 1 && size <= maxPlaintextBytes ? okWith(plaintext) : code(status.INVALID_ARGUMENT)
            return [
              exact(`v2 plaintext ${size}`, "v2.Encrypt", [len(1, plaintext)], expect),
              exact(`v1 plaintext ${size}`, "v1beta1.Encrypt", [len(1, utf8("v1beta1")), len(2, plaintext)], expect)
            ]
          }),
          ...[0, 1, maxCiphertextBytes - 1, maxCiphertextBytes, maxCiphertextBytes + 1].flatMap((size) => [
            exact(
              `v2 ciphertext ${size}`,
              "v2.Decrypt",
              [len(1, patternBytes(size, 1)), len(3, utf8(keyId))],
              code(status.INVALID_ARGUMENT)
            ),
            exact(`v1 cipher ${size}`, "v1beta1.Decrypt", [len(2, patternBytes(size, 1))], code(status.INVALID_ARGUMENT))
          ]),
          // The largest plaintext's ciphertext is well under maxCiphertextBytes, and decrypts.
          ...pool.entries
            .filter((e) => e.plaintext.length === maxPlaintextBytes)
            .map((e) =>
              exact(
                "v2 ciphertext of the largest plaintext",
                "v2.Decrypt",
                [len(1, e.ciphertext), len(3, utf8(e.keyId))],
                okWith(e.plaintext)
              )
            ),
          ...[
            "",
            "a".repeat(1024),
            "a".repeat(1025),
            "\u00e9".repeat(512),
            "\u00e9".repeat(513),
            `${keyId}:${"a".repeat(1024 - keyId.length - 1)}`
          ].map((k) =>
            exact(
              `key_id of ${Buffer.byteLength(k)} bytes`,
              "v2.Decrypt",
              [len(1, real.ciphertext), len(3, utf8(k))],
              code(status.INVALID_ARGUMENT)
            )
          ),
          ...acceptableKeyIds(real.version).map((k) =>
            exact("an accepted key_id", "v2.Decrypt", [len(1, real.ciphertext), len(3, utf8(k))], okWith(real.plaintext))
          ),
          // Annotations on an otherwise valid Decrypt: the plugin writes none, so any is refused.
          ...[
            ["one FQDN", entries(1, () => "a.example.com", Uint8Array.of(1))],
            ["an empty key", entries(1, () => "", new Uint8Array(0))],
            ["an empty entry", [len(4, new Uint8Array(0))]],
            ["__proto__", entries(1, () => "__proto__", Uint8Array.of(1))],
            ["5000 entries", entries(5000, (i) => `k${i}.example.com`, Uint8Array.of(1))],
            ["8000 empty keys", entries(8000, () => "", new Uint8Array(0))],
            ["a 60 KiB value", entries(1, () => "big.example.com", patternBytes(60 * 1024, 3))]
          ].map(([label, annotations]) =>
            exact(
              `annotations: ${String(label)}`,
              "v2.Decrypt",
              [len(1, real.ciphertext), len(3, utf8(keyId)), ...(annotations as Array<WireField>)],
              code(status.INVALID_ARGUMENT)
            )
          ),
          ...methods.flatMap((method) =>
            [-1, 0, 1, 4 * 1024 * 1024].map((delta): FuzzCase => {
              const total = delta > 1 ? delta : maxRequestMessageBytes + delta
              const fields =
                method === "v2.Status"
                  ? []
                  : method === "v1beta1.Version"
                    ? [len(1, utf8("v1beta1"))]
                    : method === "v2.Encrypt"
                      ? [len(1, Uint8Array.of(1))]
                      : method === "v1beta1.Encrypt"
                        ? [len(2, Uint8Array.of(1))]
                        : method === "v2.Decrypt"
                          ? [len(1, real.ciphertext), len(3, utf8(keyId))]
                          : [len(2, real.ciphertext)]
              const plaintext = method.endsWith("Decrypt") ? real.plaintext : method.endsWith("Encrypt") ? Uint8Array.of(1) : undefined
              return {
                label: `${method} message of ${total} bytes`,
                path: pathOf(method),
                message: padTo(fields, total),
                expect: total > maxRequestMessageBytes ? code(status.RESOURCE_EXHAUSTED) : okWith(plaintext),
                undecodableAllowed: false
              }
            })
          )
        ]
        yield* Effect.promise(async () => {
          for (const c of cases) {
            const outcome = await raw.call(c.path, c.message)
            tally.add(c.label, codeName(outcome.code))
            await checkOutcome(c, outcome, pool, raw)
          }
        })
        yield* stillServing
        report(tally, "field sizes at the limits")
        assertCodes(tally, [status.OK, status.INVALID_ARGUMENT, status.RESOURCE_EXHAUSTED])
        mergeInto(all, tally)
        report(all, "all structured cases")
      })
    )

    it.effect("an oversized message is refused from its 5-byte length prefix, before any of it is sent", () =>
      Effect.gen(function* () {
        const { socketPath } = yield* Harness
        // HEADERS, then only the gRPC length prefix of a 4 MiB message, and the stream left open:
        // the answer can only come from the prefix.
        const answer = yield* Effect.promise(() => prefixOnlyCall(socketPath, pathOf("v2.Encrypt"), 4 * 1024 * 1024))
        assert.strictEqual(answer.grpcStatus, String(status.RESOURCE_EXHAUSTED), JSON.stringify(answer))
        const justOver = yield* Effect.promise(() => prefixOnlyCall(socketPath, pathOf("v2.Decrypt"), maxRequestMessageBytes + 1))
        assert.strictEqual(justOver.grpcStatus, String(status.RESOURCE_EXHAUSTED), JSON.stringify(justOver))
        yield* stillServing
      })
    )
  })
})

const mergeInto = (into: Tally, from: Tally) => {
  for (const [label, byOutcome] of from.counts) for (const [outcome, n] of byOutcome) for (let i = 0; i < n; i++) into.add(label, outcome)
}

/** Starts a gRPC call, writes only a length prefix announcing `size` bytes, and resolves with the status the server sends. */
const prefixOnlyCall = (socketPath: string, path: string, size: number) =>
  new Promise<{ grpcStatus: string | undefined; message: string | undefined }>((resolve, reject) => {
    const session = http2.connect("http://localhost", { createConnection: () => net.connect(socketPath) })
    session.on("error", reject)
    const stream = session.request({ ":method": "POST", ":path": path, "content-type": "application/grpc", te: "trailers" })
    const finish = (headers: http2.IncomingHttpHeaders) => {
      if (headers["grpc-status"] === undefined) return
      resolve({ grpcStatus: String(headers["grpc-status"]), message: headers["grpc-message"]?.toString() })
      session.destroy()
    }
    stream.on("response", finish)
    stream.on("trailers", finish)
    stream.on("error", reject)
    stream.on("close", () => reject(new Error("stream closed without a grpc-status")))
    const prefix = Buffer.alloc(5)
    prefix.writeUInt32BE(size, 1)
    stream.write(prefix)
  })
