import { status } from "@grpc/grpc-js"
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Metric from "effect/Metric"
import type * as Result from "effect/Result"
import * as Schedule from "effect/Schedule"
import type { RetryPolicy } from "../../config/PluginConfig.ts"
import { declareSeries, labelled, statusName } from "../../observability/Labels.ts"
import { cloudKmsCalls, cloudKmsDuration, cloudKmsRetries, integrityFailures } from "../../observability/Metrics.ts"
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
  type RpcFailed,
  toKmsError
} from "./CloudKmsErrors.ts"
import { answerDue, minimalAttemptMillis } from "./Deadline.ts"

// One Cloud KMS call: attempts with a per-attempt timeout, retried on
// transient failures with exponential backoff and jitter, and never past the
// caller's deadline. When the time left cannot fit another backoff plus a
// minimal attempt (and a margin for the answer to travel back), we stop and
// answer with the last attempt's error, not a late DEADLINE_EXCEEDED.

const durations = labelled(cloudKmsDuration)
const retries = labelled(cloudKmsRetries)
const mismatches = labelled(integrityFailures)
const outcomes = labelled(cloudKmsCalls)

const operations: ReadonlyArray<Operation> = ["encrypt", "decrypt", "getCryptoKey", "testIamPermissions"]
const grpcCodes = Object.values(status).filter((code) => typeof code === "number")

/** The Cloud KMS series, present from start: every operation and outcome at 0. */
export const declareCloudKmsSeries: Effect.Effect<void> = Effect.forEach(operations, (operation) => {
  const labels = { operation }
  const outcomeNames = [...grpcCodes.map(statusName), "INTEGRITY", "ATTEMPT_TIMEOUT"]
  return declareSeries([
    durations(labels),
    retries(labels),
    mismatches(labels),
    ...outcomeNames.map((outcome) => outcomes({ ...labels, outcome }))
  ])
}, { discard: true })

const outcomeOf = (failure: AttemptFailure): string =>
  failure._tag === "RpcFailed" ? statusName(failure.code) : failure._tag === "IntegrityMismatch" ? "INTEGRITY" : "ATTEMPT_TIMEOUT"

export interface CallSpec<Response, A> {
  readonly operation: Operation
  /** The key or key version, for messages. */
  readonly resource: string
  /** One attempt; its bound travels as its gRPC deadline (no timer of ours per call). */
  readonly send: (limits: AttemptLimits) => Effect.Effect<Response, RpcFailed>
  /** Integrity checks of the response; a failure is retried like a transient error. */
  readonly verify: (response: Response) => Result.Result<A, IntegrityMismatch>
}

/** Retries transient failures while the next backoff and a minimal attempt still fit before the answer is due. */
export const retrySchedule = (policy: RetryPolicy, due: AnswerDue) =>
  Schedule.min([Schedule.exponential(Duration.millis(policy.initialBackoffMillis)), Schedule.spaced(Duration.millis(policy.maxBackoffMillis))]).pipe(
    Schedule.jittered,
    Schedule.upTo({ times: policy.maxAttempts - 1 }),
    Schedule.setInputType<AttemptFailure | OutOfTime>(),
    Schedule.while(({ duration, input, now }) =>
      input._tag !== "OutOfTime" && isTransient(input) &&
      Effect.map(due, (due) => now + Duration.toMillis(duration) + minimalAttemptMillis <= due)
    )
  )

/**
 * When the answer is due (Clock ms), read at every attempt and every retry
 * decision. For one caller it is fixed; a call shared by several callers (a
 * joined Decrypt) answers by the latest of theirs, which moves as they come
 * and go.
 */
export type AnswerDue = Effect.Effect<number>

/** One call for one caller: bounded by its deadline, or by --kms-call-timeout without one. */
export const retryingCall = <Response, A>(
  policy: RetryPolicy,
  limits: CallLimits,
  spec: CallSpec<Response, A>
): Effect.Effect<A, KmsError> =>
  Effect.flatMap(Clock.currentTimeMillis, (start) =>
    retryingCallUntil(policy, Effect.succeed(answerDue(limits.deadline ?? start + policy.callTimeoutMillis, start)), spec))

/** One call whose answer is due when `due` says at each decision. */
export const retryingCallUntil = <Response, A>(
  policy: RetryPolicy,
  due: AnswerDue,
  spec: CallSpec<Response, A>
): Effect.Effect<A, KmsError> =>
  Clock.clockWith((clock) => {
    const labels = { operation: spec.operation }
    let last: AttemptFailure | undefined

    const attempt = Effect.flatMap(due, (due): Effect.Effect<A, AttemptFailure | OutOfTime> => {
      const left = due - clock.currentTimeMillisUnsafe()
      if (left < minimalAttemptMillis) return Effect.fail(new OutOfTime({ last }))
      const millis = Math.floor(Math.min(policy.attemptTimeoutMillis, left))
      const started = clock.monotonicTimeNanosUnsafe()
      return spec.send({ timeoutMillis: millis }).pipe(
        Effect.mapError((failed): AttemptFailure => failed.code === status.DEADLINE_EXCEEDED ? new AttemptTimedOut({ millis }) : failed),
        Effect.flatMap((response) => Effect.fromResult(spec.verify(response))),
        Effect.onExit((exit) =>
          Effect.withFiberSucceed((fiber) => {
            durations(labels).updateUnsafe(Number(clock.monotonicTimeNanosUnsafe() - started) / 1e9, fiber.context)
            if (exit._tag === "Success") return outcomes({ ...labels, outcome: "OK" }).updateUnsafe(1, fiber.context)
            const failure = exit.cause.reasons.find((r) => r._tag === "Fail")?.error
            if (failure === undefined) return
            last = failure
            outcomes({ ...labels, outcome: outcomeOf(failure) }).updateUnsafe(1, fiber.context)
            if (failure._tag === "IntegrityMismatch") mismatches(labels).updateUnsafe(1, fiber.context)
          })
        )
      )
    })

    return attempt.pipe(
      Effect.retry(
        retrySchedule(policy, due).pipe(
          Schedule.tap(({ duration, input }) =>
            Effect.andThen(
              Metric.update(retries(labels), 1),
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
