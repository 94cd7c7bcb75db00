import { status } from "@grpc/grpc-js"
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import type * as Exit from "effect/Exit"
import * as Metric from "effect/Metric"
import type * as Result from "effect/Result"
import * as Schedule from "effect/Schedule"
import type { RetryPolicy } from "../../config/PluginConfig.ts"
import { declareSeries, labelled, statusName } from "../../observability/Labels.ts"
import { cloudKmsCallsSeries, cloudKmsDurationSeries, cloudKmsRetriesSeries, integrityFailuresSeries } from "../../observability/Metrics.ts"
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
  type Throttled,
  toKmsError
} from "./CloudKmsErrors.ts"
import { answerDue, minimalAttemptMillis } from "./Deadline.ts"
import type { RateLimiter } from "./RateLimiter.ts"

// One Cloud KMS call: attempts with a per-attempt timeout, retried on
// transient failures with exponential backoff and jitter, and never past the
// caller's deadline. When the time left cannot fit another backoff plus a
// minimal attempt (and a margin for the answer to travel back), we stop and
// answer with the last attempt's error, not a late DEADLINE_EXCEEDED.

const operations: ReadonlyArray<Operation> = ["encrypt", "decrypt", "getCryptoKey", "testIamPermissions"]
const grpcCodes = Object.values(status).filter((code) => typeof code === "number")
const outcomeNames = [...grpcCodes.map(statusName), "INTEGRITY", "ATTEMPT_TIMEOUT"]

/** One operation's series, made once: nothing is looked up or built per attempt. */
interface OperationSeries {
  readonly duration: Metric.Metric<number, unknown>
  readonly retries: Metric.Metric<number, unknown>
  readonly mismatches: Metric.Metric<number, unknown>
  /** By outcome: every known one made at start; any other (a code gRPC has no name for) goes through `outcomes`. */
  readonly outcomes: ReadonlyMap<string, Metric.Metric<number, unknown>>
}

const outcomes = labelled(cloudKmsCallsSeries)

const outcomeOfSeries = (operation: Operation, series: OperationSeries, outcome: string) =>
  series.outcomes.get(outcome) ?? outcomes({ operation, outcome })

const seriesOf: Readonly<Record<Operation, OperationSeries>> = (() => {
  const make = (operation: Operation): OperationSeries => ({
    duration: cloudKmsDurationSeries({ operation }),
    retries: cloudKmsRetriesSeries({ operation }),
    mismatches: integrityFailuresSeries({ operation }),
    outcomes: new Map(outcomeNames.map((outcome) => [outcome, outcomes({ operation, outcome })]))
  })
  return {
    encrypt: make("encrypt"),
    decrypt: make("decrypt"),
    getCryptoKey: make("getCryptoKey"),
    testIamPermissions: make("testIamPermissions")
  }
})()

/** The Cloud KMS series, present from start: every operation and outcome at 0. */
export const declareCloudKmsSeries: Effect.Effect<void> = Effect.forEach(
  operations,
  (operation) => {
    const series = seriesOf[operation]
    return declareSeries([series.duration, series.retries, series.mismatches, ...series.outcomes.values()])
  },
  { discard: true }
)

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
  /** The client-side rate limit every attempt takes a token from (cryptographic calls), if one is set. */
  readonly limiter?: RateLimiter | undefined
}

/** Retries transient failures while the next backoff and a minimal attempt still fit before the answer is due. */
export const retrySchedule = (policy: RetryPolicy, due: AnswerDue) =>
  Schedule.min([
    Schedule.exponential(Duration.millis(policy.initialBackoffMillis)),
    Schedule.spaced(Duration.millis(policy.maxBackoffMillis))
  ]).pipe(
    Schedule.jittered,
    Schedule.upTo({ times: policy.maxAttempts - 1 }),
    Schedule.setInputType<AttemptFailure | OutOfTime | Throttled>(),
    Schedule.while(
      ({ duration, input, now }) =>
        input._tag !== "OutOfTime" &&
        input._tag !== "Throttled" &&
        isTransient(input) &&
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
    retryingCallUntil(policy, Effect.succeed(answerDue(limits.deadline ?? start + policy.callTimeoutMillis, start)), spec)
  )

/** One call whose answer is due when `due` says at each decision. */
export const retryingCallUntil = <Response, A>(
  policy: RetryPolicy,
  due: AnswerDue,
  spec: CallSpec<Response, A>
): Effect.Effect<A, KmsError> =>
  Clock.clockWith((clock) => {
    const series = seriesOf[spec.operation]
    const limiter = spec.limiter
    let last: AttemptFailure | undefined

    const record = (exit: Exit.Exit<A, AttemptFailure>, started: bigint) =>
      Effect.withFiber((fiber) => {
        series.duration.updateUnsafe(Number(clock.monotonicTimeNanosUnsafe() - started) / 1e9, fiber.context)
        if (exit._tag === "Success") {
          outcomeOfSeries(spec.operation, series, "OK").updateUnsafe(1, fiber.context)
          return Effect.void
        }
        const failure = exit.cause.reasons.find((r) => r._tag === "Fail")?.error
        if (failure === undefined) return Effect.void
        last = failure
        outcomeOfSeries(spec.operation, series, outcomeOf(failure)).updateUnsafe(1, fiber.context)
        if (failure._tag === "IntegrityMismatch") series.mismatches.updateUnsafe(1, fiber.context)
        // Cloud KMS's quota is the project's: every caller slows down, not just this one.
        return failure._tag === "RpcFailed" && failure.code === status.RESOURCE_EXHAUSTED && limiter !== undefined
          ? limiter.pushBack
          : Effect.void
      })

    /** One attempt, sent now: what is left before the answer is due bounds it. */
    const send = (due: number): Effect.Effect<A, AttemptFailure | OutOfTime> => {
      const left = due - clock.currentTimeMillisUnsafe()
      if (left < minimalAttemptMillis) return Effect.fail(new OutOfTime({ last }))
      const millis = Math.floor(Math.min(policy.attemptTimeoutMillis, left))
      const started = clock.monotonicTimeNanosUnsafe()
      return spec.send({ timeoutMillis: millis }).pipe(
        Effect.mapError((failed): AttemptFailure => (failed.code === status.DEADLINE_EXCEEDED ? new AttemptTimedOut({ millis }) : failed)),
        Effect.flatMap((response) => Effect.fromResult(spec.verify(response))),
        Effect.onExit((exit) => record(exit, started))
      )
    }

    // With a rate limit, a token first: waiting for it counts against the
    // attempt, which must still be able to start a minimal attempt in time.
    const attempt: Effect.Effect<A, AttemptFailure | OutOfTime | Throttled> = Effect.flatMap(due, (dueAt) =>
      limiter === undefined
        ? send(dueAt)
        : dueAt - clock.currentTimeMillisUnsafe() < minimalAttemptMillis
          ? Effect.fail(new OutOfTime({ last }))
          : Effect.andThen(
              limiter.take(dueAt - minimalAttemptMillis),
              // Read again after the wait: a joined Decrypt's due moves as its callers come and go.
              Effect.flatMap(due, send)
            )
    )

    // The schedule is built only once an attempt has failed (most calls never
    // need it): it starts from that failure, exactly as Effect.retry would
    // have, then drives the attempts that follow.
    const retried = (first: AttemptFailure | OutOfTime | Throttled) => {
      let pending: AttemptFailure | OutOfTime | Throttled | undefined = first
      const next = Effect.suspend(() => {
        if (pending === undefined) return attempt
        const failure = pending
        pending = undefined
        return Effect.fail(failure)
      })
      return next.pipe(
        Effect.retry(
          retrySchedule(policy, due).pipe(
            Schedule.tap(({ duration, input }) =>
              Effect.andThen(
                Metric.update(series.retries, 1),
                Effect.logDebug(
                  `retrying Cloud KMS ${spec.operation} after ${input._tag === "OutOfTime" || input._tag === "Throttled" ? "timeout" : outcomeOf(input)}`
                ).pipe(Effect.annotateLogs({ resource: spec.resource, delayMs: Math.round(Duration.toMillis(duration)) }))
              )
            )
          )
        ),
        Effect.mapError((failure) => toKmsError(spec.operation, spec.resource, failure, failure._tag === "Throttled" ? last : undefined))
      )
    }

    return Effect.catch(attempt, retried)
  })
