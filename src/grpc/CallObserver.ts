import type * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type { KmsError } from "../kms/KmsErrors.ts"
import { type GrpcFailure, statusName } from "./GrpcStatus.ts"

/** Which RPC a call is: API version and method. */
export interface RpcMethod {
  readonly api: "v1beta1" | "v2"
  readonly name: string
}

export interface CallOutcome {
  readonly method: RpcMethod
  readonly uid: string | undefined
  readonly seconds: number
  /** Undefined on success. */
  readonly failure: GrpcFailure | undefined
  readonly cause: Cause.Cause<KmsError> | undefined
}

/**
 * Sees how every call ended: the failure log line here, metrics added by the
 * health layer. Runs inside the call's fiber, after the answer is decided.
 */
export class CallObserver extends Context.Service<CallObserver, {
  readonly observe: (outcome: CallOutcome) => Effect.Effect<void>
}>()("k8s-cloudkms-plugin/grpc/CallObserver") {}

/** One line per failed call: method, request uid, gRPC code and cause. Never data. */
export const logFailedCall = (outcome: CallOutcome): Effect.Effect<void> =>
  outcome.failure === undefined ? Effect.void : Effect.logWarning("KMS call failed").pipe(
    Effect.annotateLogs({
      rpc: `${outcome.method.api}.${outcome.method.name}`,
      uid: outcome.uid ?? "",
      code: statusName(outcome.failure.code),
      cause: outcome.failure.details,
      seconds: outcome.seconds
    })
  )

/** Failure logging only; the health layer adds metrics on top. */
export const CallLogLayer = Layer.succeed(CallObserver, CallObserver.of({ observe: logFailedCall }))
