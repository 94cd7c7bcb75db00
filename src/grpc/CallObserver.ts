import type * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as LogLevel from "effect/LogLevel"
import type { KmsError } from "../kms/KmsErrors.ts"
import { declareSeries, labelled, statusName } from "../observability/Labels.ts"
import { grpcDurationSeries, grpcRequestsSeries } from "../observability/Metrics.ts"
import { answerCodes, type GrpcFailure } from "./GrpcStatus.ts"

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

/** One line per failed call: method, request uid, gRPC code and cause. Never data. */
export const logFailedCall = (outcome: CallOutcome): Effect.Effect<void> =>
  outcome.failure === undefined
    ? Effect.void
    : Effect.logWarning("KMS call failed").pipe(
        Effect.annotateLogs({
          rpc: `${outcome.method.api}.${outcome.method.name}`,
          uid: outcome.uid ?? "",
          code: statusName(outcome.failure.code),
          cause: outcome.failure.details,
          seconds: outcome.seconds
        })
      )

/** One debug record per call, failed or not (--log-level debug): method, request uid, gRPC code, seconds. Never data. */
export const logCall = (outcome: CallOutcome): Effect.Effect<void> =>
  Effect.logDebug("KMS call").pipe(
    Effect.annotateLogs({
      rpc: `${outcome.method.api}.${outcome.method.name}`,
      uid: outcome.uid ?? "",
      code: outcome.failure === undefined ? "OK" : statusName(outcome.failure.code),
      seconds: outcome.seconds
    })
  )

const requests = labelled(grpcRequestsSeries)
const durations = labelled(grpcDurationSeries)

/** One method's series, found from the method itself (GrpcServer makes one RpcMethod per handler). */
interface MethodSeries {
  readonly duration: ReturnType<typeof durations>
  /** By code: every answer code's made up front; any other goes through `requests` (made once there). */
  readonly byCode: ReadonlyMap<string, ReturnType<typeof requests>>
}
const seriesByMethod = new WeakMap<RpcMethod, MethodSeries>()

const seriesOf = (method: RpcMethod): MethodSeries => {
  let found = seriesByMethod.get(method)
  if (found === undefined) {
    const labels = { api: method.api, method: method.name }
    found = {
      duration: durations(labels),
      byCode: new Map(answerCodes.map(statusName).map((code) => [code, requests({ ...labels, code })]))
    }
    seriesByMethod.set(method, found)
  }
  return found
}

/** The series of the methods served, present from start: every answer code at 0. */
export const declareCallSeries = (methods: ReadonlyArray<RpcMethod>): Effect.Effect<void> =>
  Effect.andThen(
    declareSeries(methods.flatMap(({ api, name }) => answerCodes.map((code) => requests({ api, method: name, code: statusName(code) })))),
    declareSeries(methods.map(({ api, name }) => durations({ api, method: name })))
  )

/** Counted and timed, in one step, with series made once per method and code. */
const record = (outcome: CallOutcome): Effect.Effect<void> =>
  Effect.withFiberSucceed((fiber) => {
    const { method } = outcome
    const series = seriesOf(method)
    const code = outcome.failure === undefined ? "OK" : statusName(outcome.failure.code)
    const counter = series.byCode.get(code) ?? requests({ api: method.api, method: method.name, code })
    counter.updateUnsafe(1, fiber.context)
    series.duration.updateUnsafe(outcome.seconds, fiber.context)
  })

/**
 * Sees how every call ended. Runs inside the call's fiber, after the answer
 * is decided.
 */
export class CallObserver extends Context.Service<
  CallObserver,
  {
    readonly observe: (outcome: CallOutcome) => Effect.Effect<void>
  }
>()("k8s-cloudkms-plugin/grpc/CallObserver") {
  /**
   * Every call counted and timed; failed ones also logged; at --log-level
   * debug, every call logged. The level is read once, here: above debug a
   * call builds no debug record at all.
   */
  static readonly layer = Layer.effect(
    CallObserver,
    Effect.map(LogLevel.isEnabled("Debug"), (debug) => {
      const counted = debug ? (outcome: CallOutcome) => Effect.andThen(record(outcome), logCall(outcome)) : record
      return CallObserver.of({
        observe: (outcome) => (outcome.failure === undefined ? counted(outcome) : Effect.andThen(counted(outcome), logFailedCall(outcome)))
      })
    })
  )
}
