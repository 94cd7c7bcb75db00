import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import { CallObserver, type CallOutcome, logFailedCall, type RpcMethod } from "../grpc/CallObserver.ts"
import { statusName } from "../grpc/GrpcStatus.ts"
import { grpcDuration, grpcRequests } from "./Metrics.ts"

// Counted and timed on every call, so the labelled series are made once per
// method and code, and both updates happen in one step.

interface MethodSeries {
  readonly duration: Metric.Metric<number, unknown>
  readonly byCode: Map<string, Metric.Metric<number, unknown>>
}

const series = new WeakMap<RpcMethod, MethodSeries>()

const seriesOf = (method: RpcMethod): MethodSeries => {
  let found = series.get(method)
  if (found === undefined) {
    found = { duration: Metric.withAttributes(grpcDuration, { api: method.api, method: method.name }), byCode: new Map() }
    series.set(method, found)
  }
  return found
}

const counterOf = (method: RpcMethod, code: string): Metric.Metric<number, unknown> => {
  const { byCode } = seriesOf(method)
  let counter = byCode.get(code)
  if (counter === undefined) {
    counter = Metric.withAttributes(grpcRequests, { api: method.api, method: method.name, code })
    byCode.set(code, counter)
  }
  return counter
}

const record = (outcome: CallOutcome): Effect.Effect<void> =>
  Effect.withFiberSucceed((fiber) => {
    const code = outcome.failure === undefined ? "OK" : statusName(outcome.failure.code)
    counterOf(outcome.method, code).updateUnsafe(1, fiber.context)
    seriesOf(outcome.method).duration.updateUnsafe(outcome.seconds, fiber.context)
  })

/** Every call counted and timed; failed ones also logged. */
export const CallMetricsLayer = Layer.succeed(
  CallObserver,
  CallObserver.of({
    observe: (outcome) => outcome.failure === undefined ? record(outcome) : Effect.andThen(record(outcome), logFailedCall(outcome))
  })
)
