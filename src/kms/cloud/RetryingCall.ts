import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Metric from "effect/Metric"
import * as Result from "effect/Result"
import * as Schedule from "effect/Schedule"
import { status } from "@grpc/grpc-js"
import type { RetryPolicy } from "../../config/PluginConfig.ts"
import { cloudKmsCalls, cloudKmsDuration, cloudKmsRetries, increment, integrityFailures, labelled } from "../../observability/Metrics.ts"
import type { CallLimits } from "../KeyManagement.ts"
import type { KmsError } from "../KmsErrors.ts"
import type { AttemptLimits } from "./CloudKmsClient.ts"
import {
  type AttemptFailure,
  AttemptTimedOut,
  type IntegrityMismatch,
  isTransient,
  type Operation,
  OutOfTime,
  rpcFailedOf,
  toKmsError
} from "./CloudKmsErrors.ts"

// One Cloud KMS call: attempts with a per-attempt timeout, retried on
// transient failures with exponential backoff and jitter, and never past the
// caller's deadline. When the time left cannot fit another backoff plus a
// minimal attempt (and a margin for the answer to travel back), we stop and
// answer with the last attempt's error, not a late DEADLINE_EXCEEDED.

/**
 * Time kept back so our answer reaches the caller before its deadline: at
 * least 100 ms, or a tenth of the call's budget (a loaded process may read a
 * call late, and the deadline is known only from when it reads it).
 */
export const answerMarginMillis = 100
export const answerMarginFor = (budgetMillis: number): number => Math.max(answerMarginMillis, budgetMillis / 10)
/** An attempt shorter than this is not worth making. */
export const minimalAttemptMillis = 50

// Series made once per operation (and outcome), not per call.
interface OperationSeries {
  readonly duration: Metric.Metric<number, unknown>
  readonly retries: Metric.Metric<number, unknown>
  readonly mismatches: Metric.Metric<number, unknown>
  readonly outcomes: (outcome: string) => Metric.Metric<number, unknown>
}

const seriesOf = (() => {
  const made = new Map<Operation, OperationSeries>()
  return (operation: Operation): OperationSeries => {
    let found = made.get(operation)
    if (found === undefined) {
      const labels = { operation }
      const outcomes = labelled(cloudKmsCalls)
      found = {
        duration: Metric.withAttributes(cloudKmsDuration, labels),
        retries: Metric.withAttributes(cloudKmsRetries, labels),
        mismatches: Metric.withAttributes(integrityFailures, labels),
        outcomes: (outcome) => outcomes({ operation, outcome })
      }
      made.set(operation, found)
    }
    return found
  }
})()

const outcomeOf = (failure: AttemptFailure): string =>
  failure._tag === "RpcFailed"
    ? status[failure.code] ?? String(failure.code)
    : failure._tag === "IntegrityMismatch"
    ? "INTEGRITY"
    : "ATTEMPT_TIMEOUT"

export interface CallSpec<Response, A> {
  readonly operation: Operation
  /** The key or key version, for messages. */
  readonly resource: string
  readonly send: (limits: AttemptLimits) => Promise<Response>
  /** Integrity checks of the response; a failure is retried like a transient error. */
  readonly verify: (response: Response) => Result.Result<A, IntegrityMismatch>
}

export const retrySchedule = (policy: RetryPolicy, deadline: number, marginMillis: number = answerMarginMillis) =>
  Schedule.min([Schedule.exponential(Duration.millis(policy.initialBackoffMillis)), Schedule.spaced(Duration.millis(policy.maxBackoffMillis))]).pipe(
    Schedule.jittered,
    Schedule.upTo({ times: policy.maxAttempts - 1 }),
    Schedule.setInputType<AttemptFailure | OutOfTime>(),
    Schedule.while(({ duration, input, now }) =>
      input._tag !== "OutOfTime" && isTransient(input) &&
      now + Duration.toMillis(duration) + minimalAttemptMillis + marginMillis <= deadline
    )
  )

export const retryingCall = <Response, A>(
  policy: RetryPolicy,
  limits: CallLimits,
  spec: CallSpec<Response, A>
): Effect.Effect<A, KmsError> =>
  Effect.suspend(() => {
    const deadline = limits.deadline ?? Date.now() + policy.callTimeoutMillis
    const margin = answerMarginFor(deadline - Date.now())
    const series = seriesOf(spec.operation)
    let last: AttemptFailure | undefined

    const attempt = Effect.suspend((): Effect.Effect<A, AttemptFailure | OutOfTime> => {
      const left = deadline - margin - Date.now()
      if (left < minimalAttemptMillis) return Effect.fail(new OutOfTime({ last }))
      // The attempt's bound travels as its gRPC deadline: no timer of ours per call.
      const millis = Math.floor(Math.min(policy.attemptTimeoutMillis, left))
      const started = performance.now()
      return Effect.tryPromise({
        try: (signal) => spec.send({ signal, timeoutMillis: millis }),
        catch: (error) => {
          const failed = rpcFailedOf(error)
          return failed.code === status.DEADLINE_EXCEEDED ? new AttemptTimedOut({ millis }) : failed
        }
      }).pipe(
        Effect.flatMap((response) => Effect.fromResult(spec.verify(response))),
        Effect.onExit((exit) =>
          Effect.withFiberSucceed((fiber) => {
            series.duration.updateUnsafe((performance.now() - started) / 1000, fiber.context)
            if (exit._tag === "Success") return series.outcomes("OK").updateUnsafe(1, fiber.context)
            const failure = exit.cause.reasons.find((r) => r._tag === "Fail")?.error
            if (failure === undefined) return
            last = failure
            series.outcomes(outcomeOf(failure)).updateUnsafe(1, fiber.context)
            if (failure._tag === "IntegrityMismatch") series.mismatches.updateUnsafe(1, fiber.context)
          })
        )
      )
    })

    return attempt.pipe(
      Effect.retry(
        retrySchedule(policy, deadline, margin).pipe(
          Schedule.tap(({ duration, input }) =>
            Effect.andThen(
              increment(series.retries),
              Effect.logDebug(`retrying Cloud KMS ${spec.operation} after ${input._tag === "OutOfTime" ? "timeout" : outcomeOf(input)}`).pipe(
                Effect.annotateLogs({ resource: spec.resource, delayMs: Math.round(Duration.toMillis(duration)) })
              )
            )
          )
        )
      ),
      Effect.mapError((failure) => toKmsError(spec.operation, spec.resource, failure))
    )
  })
