import type * as grpc from "@grpc/grpc-js"
import * as Clock from "effect/Clock"
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

/**
 * The caller's deadline on Effect's Clock: the one place where time comes
 * from outside it. grpc-js gives a wall-clock Date (or Infinity for none); we
 * keep how much of it is left, measured now, on the Clock everything else uses.
 */
const limitsOf = (deadline: grpc.Deadline, clock: Clock.Clock): CallLimits => {
  const millis = deadline instanceof Date ? deadline.getTime() : deadline
  return { deadline: Number.isFinite(millis) ? clock.currentTimeMillisUnsafe() + (millis - Date.now()) : undefined }
}

/**
 * Bridges one grpc-js unary handler to an Effect: the caller's deadline goes
 * down as CallLimits, a cancelled call interrupts the fiber (and with it any
 * KMS call), and every outcome is mapped to a gRPC status in GrpcStatus.
 */
export const unaryCall =
  <Req, Res>(
    run: CallRunner,
    method: RpcMethod,
    handler: (request: Req, limits: CallLimits) => Effect.Effect<Res, KmsError>,
    uidOf: (request: Req) => string | undefined,
    observe: (outcome: CallOutcome) => Effect.Effect<void>
  ): grpc.handleUnaryCall<Req, Res> =>
  (call, callback) => {
    const request = call.request
    const program = Clock.clockWith((clock) => {
      const started = clock.monotonicTimeNanosUnsafe()
      return Effect.onExit(handler(request, limitsOf(call.getDeadline(), clock)), (exit) => {
        const seconds = Number(clock.monotonicTimeNanosUnsafe() - started) / 1e9
        const uid = uidOf(request)
        return Exit.isSuccess(exit)
          ? observe({ method, uid, seconds, failure: undefined, cause: undefined })
          : observe({ method, uid, seconds, failure: failureOfCause(exit.cause), cause: exit.cause })
      })
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
