import { status } from "@grpc/grpc-js"
import * as Cause from "effect/Cause"
import type { KmsError } from "../kms/KmsErrors.ts"

// The one table from typed errors to gRPC status codes. Every outcome of a
// call goes through here, so no call ever ends in UNKNOWN.

export interface GrpcFailure {
  readonly code: status
  readonly details: string
}

const codeOf: { readonly [Tag in KmsError["_tag"]]: status } = {
  InvalidRequest: status.INVALID_ARGUMENT,
  UnknownKey: status.INVALID_ARGUMENT,
  InvalidCiphertext: status.INVALID_ARGUMENT,
  KmsUnavailable: status.UNAVAILABLE,
  DeadlineExceeded: status.DEADLINE_EXCEEDED,
  PermissionDenied: status.PERMISSION_DENIED,
  Unauthenticated: status.UNAUTHENTICATED,
  KeyUnusable: status.FAILED_PRECONDITION,
  QuotaExhausted: status.RESOURCE_EXHAUSTED,
  IntegrityError: status.DATA_LOSS,
  Cancelled: status.CANCELLED
}

/** Every code a call can end with. */
export const answerCodes: ReadonlyArray<status> = [...new Set([status.OK, ...Object.values(codeOf), status.INTERNAL])]

export const failureOfError = (error: KmsError): GrpcFailure => ({ code: codeOf[error._tag], details: error.message })

/** A defect never shows its internals to the caller; the log has them. */
export const internalFailure: GrpcFailure = { code: status.INTERNAL, details: "internal error in the KMS plugin; see its log" }

export const cancelledFailure: GrpcFailure = { code: status.CANCELLED, details: "call cancelled" }

/** The gRPC answer for any way a call can end other than success. */
export const failureOfCause = (cause: Cause.Cause<KmsError>): GrpcFailure => {
  const error = Cause.findErrorOption(cause)
  if (error._tag === "Some") return failureOfError(error.value)
  return Cause.hasInterruptsOnly(cause) ? cancelledFailure : internalFailure
}
