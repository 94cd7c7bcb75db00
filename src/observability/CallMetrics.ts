import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import { CallObserver, type CallOutcome, logFailedCall } from "../grpc/CallObserver.ts"
import { statusName } from "../grpc/GrpcStatus.ts"
import { grpcDuration, grpcRequests, increment, labelled } from "./Metrics.ts"

const requests = labelled(grpcRequests)
const durations = labelled(grpcDuration)

const record = (outcome: CallOutcome): Effect.Effect<void> =>
  Effect.andThen(
    increment(requests({
      api: outcome.method.api,
      method: outcome.method.name,
      code: outcome.failure === undefined ? "OK" : statusName(outcome.failure.code)
    })),
    Metric.update(durations({ api: outcome.method.api, method: outcome.method.name }), outcome.seconds)
  )

/** Every call counted and timed; failed ones also logged. */
export const CallMetricsLayer = Layer.succeed(
  CallObserver,
  CallObserver.of({ observe: (outcome) => Effect.andThen(record(outcome), logFailedCall(outcome)) })
)
