import type * as grpc from "@grpc/grpc-js"

/** A failure the fake answers with: a gRPC code and Cloud KMS-like details. */
export class KmsStatusError extends Error {
  readonly code: grpc.status
  constructor(code: grpc.status, details: string) {
    super(details)
    this.name = "KmsStatusError"
    this.code = code
  }
}
