import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Metric from "effect/Metric"
import * as Result from "effect/Result"
import * as Schedule from "effect/Schedule"
import { status } from "@grpc/grpc-js"
import type { RetryPolicy } from "../../config/PluginConfig.ts"
import {
  cloudKmsCalls,
  cloudKmsDuration,
  cloudKmsRetries,
  increment,
  integrityFailures,
  labelled
} from "../../observability/Metrics.ts"
import type { CallLimits } from "../KeyManagement.ts"
import type { KmsError } from "../KmsErrors.ts"
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

/** Time kept back so our answer reaches the caller before its deadline. */
export const answerMarginMillis = 100
/** An attempt shorter than this is not worth making. */
export const minimalAttemptMillis = 50

const calls = labelled(cloudKmsCalls)
const durations = labelled(cloudKmsDuration)
const retries = labelled(cloudKmsRetries)
const mismatches = labelled(integrityFailures)

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
  readonly send: (signal: AbortSignal) => Promise<Response>
  /** Integrity checks of the response; a failure is retried like a transient error. */
  readonly verify: (response: Response) => Result.Result<A, IntegrityMismatch>
}

export const retrySchedule = (policy: RetryPolicy, deadline: number) =>
  Schedule.min([Schedule.exponential(Duration.millis(policy.initialBackoffMillis)), Schedule.spaced(Duration.millis(policy.maxBackoffMillis))]).pipe(
    Schedule.jittered,
    Schedule.upTo({ times: policy.maxAttempts - 1 }),
    Schedule.setInputType<AttemptFailure | OutOfTime>(),
    Schedule.while(({ duration, input, now }) =>
      input._tag !== "OutOfTime" && isTransient(input) &&
      now + Duration.toMillis(duration) + minimalAttemptMillis + answerMarginMillis <= deadline
    )
  )

export const retryingCall = <Response, A>(
  policy: RetryPolicy,
  limits: CallLimits,
  spec: CallSpec<Response, A>
): Effect.Effect<A, KmsError> =>
  Effect.suspend(() => {
    const deadline = limits.deadline ?? Date.now() + policy.callTimeoutMillis
    const labels = { operation: spec.operation }
    let last: AttemptFailure | undefined

    const attempt = Effect.suspend((): Effect.Effect<A, AttemptFailure | OutOfTime> => {
      const left = deadline - answerMarginMillis - Date.now()
      if (left < minimalAttemptMillis) return Effect.fail(new OutOfTime({ last }))
      const millis = Math.min(policy.attemptTimeoutMillis, left)
      const started = performance.now()
      return Effect.tryPromise({ try: spec.send, catch: rpcFailedOf }).pipe(
        Effect.flatMap((response) => Effect.fromResult(spec.verify(response))),
        Effect.timeoutOrElse({ duration: millis, orElse: () => Effect.fail(new AttemptTimedOut({ millis })) }),
        Effect.onExit((exit) =>
          Effect.gen(function*() {
            yield* Metric.update(durations(labels), (performance.now() - started) / 1000)
            if (exit._tag === "Success") return yield* increment(calls({ ...labels, outcome: "OK" }))
            const failure = exit.cause.reasons.find((r) => r._tag === "Fail")?.error
            if (failure === undefined) return
            last = failure
            yield* increment(calls({ ...labels, outcome: outcomeOf(failure) }))
            if (failure._tag === "IntegrityMismatch") yield* increment(mismatches(labels))
          })
        )
      )
    })

    return attempt.pipe(
      Effect.retry(
        retrySchedule(policy, deadline).pipe(
          Schedule.tap(({ duration, input }) =>
            Effect.andThen(
              increment(retries(labels)),
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
