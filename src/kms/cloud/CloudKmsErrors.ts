import { status } from "@grpc/grpc-js"
import * as Data from "effect/Data"
import { statusName } from "../../observability/Labels.ts"
import {
  Cancelled,
  DeadlineExceeded,
  IntegrityError,
  InvalidCiphertext,
  InvalidRequest,
  KeyUnusable,
  type KmsError,
  KmsUnavailable,
  PermissionDenied,
  QuotaExhausted,
  Unauthenticated
} from "../KmsErrors.ts"

// How one Cloud KMS attempt can fail, whether that is worth another attempt,
// and what the caller is told once we stop trying.

/** Cloud KMS (or the way to it) answered with a gRPC error. */
export class RpcFailed extends Data.TaggedError("RpcFailed")<{ readonly code: number; readonly details: string }> {}

/** The answer failed a CRC32C or resource name check: it is never used. */
export class IntegrityMismatch extends Data.TaggedError("IntegrityMismatch")<{ readonly check: string }> {}

/** One attempt took longer than its timeout (the call as a whole may go on). */
export class AttemptTimedOut extends Data.TaggedError("AttemptTimedOut")<{ readonly millis: number }> {}

/** No time left on the caller's deadline for another attempt. */
export class OutOfTime extends Data.TaggedError("OutOfTime")<{ readonly last: AttemptFailure | undefined }> {}

export type AttemptFailure = RpcFailed | IntegrityMismatch | AttemptTimedOut

/** Why the client-side rate limit refused an attempt: the configured rate, or the rate as cut after Cloud KMS pushed back. */
export type ThrottleReason = "limit" | "backoff"

/** The client-side rate limit had no token for an attempt before it had to start: it was never sent. */
export class Throttled extends Data.TaggedError("Throttled")<{
  readonly reason: ThrottleReason
  /** How long the attempt would have had to wait. */
  readonly waitMillis: number
  /** The rate when refused (below the configured one after a cut), calls per second. */
  readonly qps: number
  /** --kms-qps-limit. */
  readonly limit: number
}> {}

const transientCodes: ReadonlySet<number> = new Set([
  status.UNAVAILABLE,
  status.DEADLINE_EXCEEDED,
  status.RESOURCE_EXHAUSTED,
  status.INTERNAL
])

export const isTransient = (failure: AttemptFailure): boolean => failure._tag !== "RpcFailed" || transientCodes.has(failure.code)

/** A thrown gax/grpc error as an RpcFailed; errors without a code are credential problems or worse. */
export const rpcFailedOf = (error: unknown): RpcFailed => {
  if (typeof error === "object" && error !== null && "code" in error && typeof error.code === "number") {
    const details = "details" in error && typeof error.details === "string" ? error.details : String(error)
    return new RpcFailed({ code: error.code, details })
  }
  const message = error instanceof Error ? error.message : String(error)
  return /credential|token|auth/i.test(message)
    ? new RpcFailed({ code: status.UNAUTHENTICATED, details: message })
    : new RpcFailed({ code: status.UNKNOWN, details: message })
}

export type Operation = "encrypt" | "decrypt" | "getCryptoKey" | "testIamPermissions"

export const encryptPermission = "cloudkms.cryptoKeyVersions.useToEncrypt"
export const decryptPermission = "cloudkms.cryptoKeyVersions.useToDecrypt"

const permissionOf: Record<Operation, string> = {
  encrypt: encryptPermission,
  decrypt: decryptPermission,
  getCryptoKey: "cloudkms.cryptoKeys.get",
  testIamPermissions: "cloudkms.cryptoKeys.getIamPolicy"
}

const perSecond = (qps: number) => `${Number(qps.toPrecision(3))}/s`

/** What the caller is told, once retries are over: which key, and what to check. */
export const toKmsError = (
  operation: Operation,
  resource: string,
  failure: AttemptFailure | OutOfTime | Throttled,
  last?: AttemptFailure
): KmsError => {
  if (failure._tag === "Throttled") {
    // RESOURCE_EXHAUSTED, not UNAVAILABLE: Cloud KMS is fine, our own limit said no (see README, --kms-qps-limit).
    const rate =
      failure.reason === "backoff"
        ? `--kms-qps-limit ${perSecond(failure.limit)}, cut to ${perSecond(failure.qps)} after Cloud KMS answered RESOURCE_EXHAUSTED`
        : `--kms-qps-limit ${perSecond(failure.limit)}`
    const before = last === undefined ? "" : `; the attempt before it: ${toKmsError(operation, resource, last).message}`
    return new QuotaExhausted({
      message:
        `Cloud KMS ${operation} on ${resource} not sent: the client-side rate limit (${rate}) had no turn for it before ` +
        `the caller's deadline (it would have waited ${Math.ceil(failure.waitMillis)}ms); raise the limit if Cloud KMS's quota allows${before}`
    })
  }
  if (failure._tag === "OutOfTime") {
    return failure.last === undefined
      ? new DeadlineExceeded({ message: `no time left on the caller's deadline to call Cloud KMS ${operation} on ${resource}` })
      : toKmsError(operation, resource, failure.last)
  }
  if (failure._tag === "IntegrityMismatch") {
    return new IntegrityError({
      message: `Cloud KMS ${operation} on ${resource}: response failed its ${failure.check} check on every attempt; nothing returned`
    })
  }
  if (failure._tag === "AttemptTimedOut") {
    return new KmsUnavailable({
      message: `Cloud KMS ${operation} on ${resource}: no answer to any attempt (the last waited ${failure.millis}ms)`
    })
  }
  const said = `Cloud KMS ${operation} on ${resource}: ${statusName(failure.code)}: ${failure.details}`
  switch (failure.code) {
    case status.INVALID_ARGUMENT:
      return operation === "decrypt"
        ? new InvalidCiphertext({ message: `${said} (corrupted, or wrapped by another key)` })
        : new InvalidRequest({ message: said })
    case status.PERMISSION_DENIED:
      return new PermissionDenied({
        message: /scope/i.test(failure.details)
          ? `${said}; give the VM the https://www.googleapis.com/auth/cloudkms (or cloud-platform) access scope`
          : `${said}; grant the plugin's service account ${permissionOf[operation]} on the key (role roles/cloudkms.cryptoKeyEncrypterDecrypter)`
      })
    case status.UNAUTHENTICATED:
      return new Unauthenticated({
        message: `${said}; check the credentials (the VM's service account and its https://www.googleapis.com/auth/cloudkms scope)`
      })
    case status.NOT_FOUND:
      return new KeyUnusable({ message: `${said}; check the key name and that it exists in that project and location` })
    case status.FAILED_PRECONDITION:
      return new KeyUnusable({ message: `${said}; check that the key version is enabled` })
    case status.RESOURCE_EXHAUSTED:
      return new QuotaExhausted({ message: `${said}; Cloud KMS quota exhausted, even after retries` })
    case status.CANCELLED:
      return new Cancelled({ message: said })
    default:
      return new KmsUnavailable({ message: said })
  }
}
