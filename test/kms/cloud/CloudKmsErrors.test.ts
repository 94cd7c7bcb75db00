import { assert, describe, it } from "@effect/vitest"
import { status } from "@grpc/grpc-js"
import * as fc from "fast-check"
import {
  AttemptTimedOut,
  IntegrityMismatch,
  isTransient,
  type Operation,
  OutOfTime,
  RpcFailed,
  rpcFailedOf,
  toKmsError
} from "../../../src/kms/cloud/CloudKmsErrors.ts"

const key = "projects/p/locations/l/keyRings/r/cryptoKeys/k"
const operations: ReadonlyArray<Operation> = ["encrypt", "decrypt", "getCryptoKey", "testIamPermissions"]

describe("Cloud KMS failures", () => {
  it("transient: exactly UNAVAILABLE, DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED, INTERNAL, integrity mismatches and attempt timeouts", () => {
    const transient = new Set<number>([status.UNAVAILABLE, status.DEADLINE_EXCEEDED, status.RESOURCE_EXHAUSTED, status.INTERNAL])
    for (let code = 0; code <= 16; code++) {
      assert.strictEqual(isTransient(new RpcFailed({ code, details: "" })), transient.has(code), status[code])
    }
    assert.isTrue(isTransient(new IntegrityMismatch({ check: "x" })))
    assert.isTrue(isTransient(new AttemptTimedOut({ millis: 1 })))
  })

  it("thrown errors keep their gRPC code and details; code-less credential errors are UNAUTHENTICATED, others UNKNOWN", () => {
    assert.deepStrictEqual(rpcFailedOf({ code: 14, details: "down" }), new RpcFailed({ code: 14, details: "down" }))
    assert.strictEqual(rpcFailedOf({ code: 7 }).code, 7)
    assert.strictEqual(rpcFailedOf(new Error("Could not load the default credentials")).code, status.UNAUTHENTICATED)
    assert.strictEqual(rpcFailedOf(new Error("socket hang up")).code, status.UNKNOWN)
    assert.strictEqual(rpcFailedOf("weird").details, "weird")
  })

  it("every final failure maps to a typed error that names the operation and the key", () => {
    const failure = fc.oneof(
      fc.record({ code: fc.integer({ min: 0, max: 16 }), details: fc.string() }).map((r) => new RpcFailed(r)),
      fc.constant(new IntegrityMismatch({ check: "ciphertext CRC32C" })),
      fc.constant(new AttemptTimedOut({ millis: 2000 }))
    )
    fc.assert(
      fc.property(fc.constantFrom(...operations), failure, (operation, f) => {
        const error = toKmsError(operation, key, f)
        assert.include(error.message, key)
        assert.include(error.message, operation)
      })
    )
  })

  it("the table: what each code becomes and what it tells the operator to check", () => {
    const rpc = (code: number, details = "d") => new RpcFailed({ code, details })
    assert.strictEqual(toKmsError("decrypt", key, rpc(status.INVALID_ARGUMENT))._tag, "InvalidCiphertext")
    assert.include(toKmsError("decrypt", key, rpc(status.INVALID_ARGUMENT)).message, "wrapped by another key")
    assert.strictEqual(toKmsError("encrypt", key, rpc(status.INVALID_ARGUMENT))._tag, "InvalidRequest")
    const denied = toKmsError("decrypt", key, rpc(status.PERMISSION_DENIED))
    assert.strictEqual(denied._tag, "PermissionDenied")
    assert.include(denied.message, "cloudkms.cryptoKeyVersions.useToDecrypt")
    assert.include(toKmsError("encrypt", key, rpc(status.PERMISSION_DENIED)).message, "cloudkms.cryptoKeyVersions.useToEncrypt")
    assert.include(toKmsError("getCryptoKey", key, rpc(status.PERMISSION_DENIED)).message, "cloudkms.cryptoKeys.get")
    assert.include(
      toKmsError("decrypt", key, rpc(status.PERMISSION_DENIED, "Request had insufficient authentication scopes.")).message,
      "access scope"
    )
    assert.strictEqual(toKmsError("decrypt", key, rpc(status.UNAUTHENTICATED))._tag, "Unauthenticated")
    assert.include(toKmsError("decrypt", key, rpc(status.UNAUTHENTICATED)).message, "credentials")
    assert.strictEqual(toKmsError("decrypt", key, rpc(status.NOT_FOUND))._tag, "KeyUnusable")
    assert.include(toKmsError("decrypt", key, rpc(status.NOT_FOUND)).message, "exists")
    assert.strictEqual(toKmsError("decrypt", key, rpc(status.FAILED_PRECONDITION))._tag, "KeyUnusable")
    assert.include(toKmsError("decrypt", key, rpc(status.FAILED_PRECONDITION)).message, "enabled")
    assert.strictEqual(toKmsError("decrypt", key, rpc(status.RESOURCE_EXHAUSTED))._tag, "QuotaExhausted")
    assert.strictEqual(toKmsError("decrypt", key, rpc(status.CANCELLED))._tag, "Cancelled")
    for (const code of [status.UNAVAILABLE, status.INTERNAL, status.UNKNOWN, status.UNIMPLEMENTED, status.DEADLINE_EXCEEDED]) {
      assert.strictEqual(toKmsError("decrypt", key, rpc(code))._tag, "KmsUnavailable", status[code])
    }
    assert.include(toKmsError("decrypt", key, rpc(status.UNAVAILABLE, "connection refused")).message, "UNAVAILABLE: connection refused")
    const integrity = toKmsError("decrypt", key, new IntegrityMismatch({ check: "plaintext CRC32C" }))
    assert.strictEqual(integrity._tag, "IntegrityError")
    assert.include(integrity.message, "plaintext CRC32C")
    assert.include(integrity.message, "nothing returned")
    const timeout = toKmsError("decrypt", key, new AttemptTimedOut({ millis: 2000 }))
    assert.strictEqual(timeout._tag, "KmsUnavailable")
    assert.include(timeout.message, "waited 2000ms")
  })

  it("out of time: the last attempt's error if there was one, else DEADLINE_EXCEEDED", () => {
    assert.strictEqual(toKmsError("decrypt", key, new OutOfTime({ last: undefined }))._tag, "DeadlineExceeded")
    assert.strictEqual(
      toKmsError("decrypt", key, new OutOfTime({ last: new RpcFailed({ code: status.UNAVAILABLE, details: "" }) }))._tag,
      "KmsUnavailable"
    )
  })

  it("rpcFailedOf: only a numeric code is a gRPC code; details only when a string, else the error as text", () => {
    // (Compared field by field: deep equality of errors looks at name, message and code only.)
    const fields = (failure: RpcFailed) => ({ code: failure.code, details: failure.details })
    assert.deepStrictEqual(fields(rpcFailedOf({ code: 14, details: "down" })), { code: 14, details: "down" })
    // gax errors carry code and details; a gRPC error without details keeps its text.
    const grpcError = Object.assign(new Error("7 PERMISSION_DENIED: denied"), { code: 7 })
    assert.deepStrictEqual(fields(rpcFailedOf(grpcError)), { code: 7, details: "Error: 7 PERMISSION_DENIED: denied" })
    assert.deepStrictEqual(fields(rpcFailedOf(Object.assign(grpcError, { details: 42 }))), {
      code: 7,
      details: "Error: 7 PERMISSION_DENIED: denied"
    })
    assert.deepStrictEqual(fields(rpcFailedOf({ code: 14, details: 42 })), { code: 14, details: "[object Object]" })
    assert.deepStrictEqual(fields(rpcFailedOf({ code: 14, details: "" })), { code: 14, details: "" })
    // A Node system error's code is a string: not a gRPC code.
    const refused = Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:443"), { code: "ECONNREFUSED" })
    assert.deepStrictEqual(fields(rpcFailedOf(refused)), { code: status.UNKNOWN, details: "connect ECONNREFUSED 127.0.0.1:443" })
    const expired = Object.assign(new Error("invalid_grant: token expired"), { code: "401" })
    assert.deepStrictEqual(fields(rpcFailedOf(expired)), { code: status.UNAUTHENTICATED, details: "invalid_grant: token expired" })
    assert.deepStrictEqual(fields(rpcFailedOf(null)), { code: status.UNKNOWN, details: "null" })
    assert.deepStrictEqual(fields(rpcFailedOf(undefined)), { code: status.UNKNOWN, details: "undefined" })
    assert.deepStrictEqual(fields(rpcFailedOf(new Error("socket hang up"))), { code: status.UNKNOWN, details: "socket hang up" })
  })

  it("out of time before any attempt: DeadlineExceeded saying so, with the operation and the key", () => {
    const error = toKmsError("encrypt", key, new OutOfTime({ last: undefined }))
    assert.strictEqual(error._tag, "DeadlineExceeded")
    assert.strictEqual(error.message, `no time left on the caller's deadline to call Cloud KMS encrypt on ${key}`)
  })
})
