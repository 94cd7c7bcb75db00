import * as Data from "effect/Data"

// What can go wrong behind the KeyManagement port. Every error says what
// failed and what to check; none ever carries plaintext or key material.
// src/grpc/GrpcStatus.ts maps each one to a gRPC code, in one table.

/** A request the plugin refuses before any KMS work: size, shape, key_id. */
export class InvalidRequest extends Data.TaggedError("InvalidRequest")<{ readonly message: string }> {}

/** The key_id names a crypto key this plugin is not configured for. */
export class UnknownKey extends Data.TaggedError("UnknownKey")<{ readonly message: string }> {}

/** The KMS refused the ciphertext: corrupted, or made by another key. */
export class InvalidCiphertext extends Data.TaggedError("InvalidCiphertext")<{ readonly message: string }> {}

/** The KMS could not be reached, or answered with a transient error, even after retries. */
export class KmsUnavailable extends Data.TaggedError("KmsUnavailable")<{ readonly message: string }> {}

/** The caller's deadline (or our own timeout) passed before an answer. */
export class DeadlineExceeded extends Data.TaggedError("DeadlineExceeded")<{ readonly message: string }> {}

export class PermissionDenied extends Data.TaggedError("PermissionDenied")<{ readonly message: string }> {}

export class Unauthenticated extends Data.TaggedError("Unauthenticated")<{ readonly message: string }> {}

/** The key or key version is disabled, destroyed or missing. */
export class KeyUnusable extends Data.TaggedError("KeyUnusable")<{ readonly message: string }> {}

/** KMS quota exhausted, even after retries. */
export class QuotaExhausted extends Data.TaggedError("QuotaExhausted")<{ readonly message: string }> {}

/** A CRC32C integrity check failed, even after retries: the data is not returned. */
export class IntegrityError extends Data.TaggedError("IntegrityError")<{ readonly message: string }> {}

/** The caller went away. */
export class Cancelled extends Data.TaggedError("Cancelled")<{ readonly message: string }> {}

export type KmsError =
  | InvalidRequest
  | UnknownKey
  | InvalidCiphertext
  | KmsUnavailable
  | DeadlineExceeded
  | PermissionDenied
  | Unauthenticated
  | KeyUnusable
  | QuotaExhausted
  | IntegrityError
  | Cancelled
