import type * as grpc from "@grpc/grpc-js"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import type { CallLimits } from "../kms/KeyManagement.ts"
import type { KmsError } from "../kms/KmsErrors.ts"
import type { CallOutcome, RpcMethod } from "./CallObserver.ts"
import { failureOfCause } from "./GrpcStatus.ts"

/** Runs an effect with the server's captured services (Effect.runCallbackWith). */
export type CallRunner = <A, E>(
  effect: Effect.Effect<A, E>,
  options: { readonly onExit: (exit: Exit.Exit<A, E>) => void }
) => (interruptor?: number) => void

const deadlineOf = (deadline: grpc.Deadline): number | undefined => {
  const millis = deadline instanceof Date ? deadline.getTime() : deadline
  return Number.isFinite(millis) ? millis : undefined
}

/**
 * Bridges one grpc-js unary handler to an Effect: the caller's deadline goes
 * down as CallLimits, a cancelled call interrupts the fiber (and with it any
 * KMS call), and every outcome is mapped to a gRPC status in GrpcStatus.
 */
export const unaryCall = <Req, Res>(
  run: CallRunner,
  method: RpcMethod,
  handler: (request: Req, limits: CallLimits) => Effect.Effect<Res, KmsError>,
  uidOf: (request: Req) => string | undefined,
  observe: (outcome: CallOutcome) => Effect.Effect<void>
): grpc.handleUnaryCall<Req, Res> =>
(call, callback) => {
  const started = performance.now()
  const request = call.request
  const program = Effect.onExit(handler(request, { deadline: deadlineOf(call.getDeadline()) }), (exit) => {
    const seconds = (performance.now() - started) / 1000
    const uid = uidOf(request)
    return Exit.isSuccess(exit)
      ? observe({ method, uid, seconds, failure: undefined, cause: undefined })
      : observe({ method, uid, seconds, failure: failureOfCause(exit.cause), cause: exit.cause })
  })
  let settled = false
  const interrupt = run(program, {
    onExit: (exit) => {
      settled = true
      if (Exit.isSuccess(exit)) callback(null, exit.value)
      else {
        const failure = failureOfCause(exit.cause)
        callback({ code: failure.code, details: failure.details })
      }
    }
  })
  if (!settled) call.once("cancelled", () => interrupt())
}
