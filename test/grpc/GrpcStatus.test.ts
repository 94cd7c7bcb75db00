import { assert, describe, it } from "@effect/vitest"
import { status } from "@grpc/grpc-js"
import * as Cause from "effect/Cause"
import * as fc from "fast-check"
import { failureOfCause, failureOfError } from "../../src/grpc/GrpcStatus.ts"
import * as Errors from "../../src/kms/KmsErrors.ts"

// The design's table, restated independently of the implementation.
const expected: ReadonlyArray<readonly [(message: string) => Errors.KmsError, status]> = [
  [(message) => new Errors.InvalidRequest({ message }), status.INVALID_ARGUMENT],
  [(message) => new Errors.UnknownKey({ message }), status.INVALID_ARGUMENT],
  [(message) => new Errors.InvalidCiphertext({ message }), status.INVALID_ARGUMENT],
  [(message) => new Errors.KmsUnavailable({ message }), status.UNAVAILABLE],
  [(message) => new Errors.DeadlineExceeded({ message }), status.DEADLINE_EXCEEDED],
  [(message) => new Errors.PermissionDenied({ message }), status.PERMISSION_DENIED],
  [(message) => new Errors.Unauthenticated({ message }), status.UNAUTHENTICATED],
  [(message) => new Errors.KeyUnusable({ message }), status.FAILED_PRECONDITION],
  [(message) => new Errors.QuotaExhausted({ message }), status.RESOURCE_EXHAUSTED],
  [(message) => new Errors.IntegrityError({ message }), status.DATA_LOSS],
  [(message) => new Errors.Cancelled({ message }), status.CANCELLED]
]

const anyError = fc.tuple(fc.integer({ min: 0, max: expected.length - 1 }), fc.string()).map(([i, message]) => {
  const [make, code] = expected[i] ?? expected[0]!
  return { error: make(message), code, message }
})

describe("error → gRPC status mapping", () => {
  it("every typed error maps to its code from the design table, with its message", () => {
    fc.assert(
      fc.property(anyError, ({ code, error, message }) => {
        assert.deepStrictEqual(failureOfError(error), { code, details: message })
      })
    )
  })

  it("the table covers every error class KmsErrors exports", () => {
    const exported = Object.values(Errors).filter((v) => typeof v === "function").length
    assert.strictEqual(exported, expected.length)
  })

  it("is total over causes and never answers UNKNOWN or OK", () => {
    const cause = fc.oneof(
      anyError.map(({ error }) => Cause.fail(error)),
      fc.anything().map((defect) => Cause.die(defect)),
      fc.constant(Cause.interrupt()),
      fc.tuple(anyError, fc.anything()).map(([{ error }, defect]) => Cause.combine(Cause.die(defect), Cause.fail(error)))
    )
    fc.assert(
      fc.property(cause, (c) => {
        const failure = failureOfCause(c)
        assert.notStrictEqual(failure.code, status.UNKNOWN)
        assert.notStrictEqual(failure.code, status.OK)
        assert.isString(failure.details)
      })
    )
  })

  it("a defect is INTERNAL and never shows its internals", () => {
    fc.assert(
      fc.property(
        fc.string().map((s) => `SECRET-${s}`),
        (secret) => {
          const failure = failureOfCause(Cause.die(new Error(secret)))
          assert.strictEqual(failure.code, status.INTERNAL)
          assert.notInclude(failure.details, secret)
        }
      )
    )
  })

  it("an interrupted call is CANCELLED", () => {
    assert.strictEqual(failureOfCause(Cause.interrupt()).code, status.CANCELLED)
  })
})
