import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Metric from "effect/Metric"
import * as Ref from "effect/Ref"
import { declareSeries, labelled } from "../../observability/Labels.ts"
import { rateLimitRefusalsSeries, rateLimitSlowdowns, rateLimitWait } from "../../observability/Metrics.ts"
import { Throttled, type ThrottleReason } from "./CloudKmsErrors.ts"

// The client-side Cloud KMS rate limit (--kms-qps-limit, --kms-burst): a
// token bucket shared by every attempt of a cryptographic call (Encrypt,
// Decrypt, the key check's Encrypt probe). A call takes a token or reserves
// the next one and sleeps until it is due: no timer but that one sleep. It
// never waits past the time its attempt must start to be answered before the
// caller's deadline: it is refused at once instead (RESOURCE_EXHAUSTED, see
// toKmsError). A RESOURCE_EXHAUSTED answer from Cloud KMS halves the rate for
// every caller (the quota is the project's, not one call's) and empties the
// bucket; the rate doubles back every recovery step without another one.
// Time is Effect's Clock: tests drive it with TestClock.

export interface RateLimit {
  /** Tokens per second. */
  readonly qps: number
  /** Tokens the bucket holds at most: calls that may go at once after a quiet spell. */
  readonly burst: number
}

/** RESOURCE_EXHAUSTED answers within this long of a cut are the same event (calls already in flight): one cut. */
export const cutCoalesceMillis = 1_000
/** After a cut, the rate doubles back each time this long passes without another. */
export const recoveryStepMillis = 5_000
/** Cuts stop at this fraction of the configured rate. */
export const slowestFraction = 1 / 32

export interface BucketState {
  /** Tokens now; below 0 when waiting calls have reserved tokens not yet refilled. */
  readonly tokens: number
  /** When `tokens` was last brought up to date (Clock ms). */
  readonly at: number
  /** Tokens per millisecond now: the configured rate, or less after a cut. */
  readonly rate: number
  /** When the rate was last cut; undefined while at the configured rate. */
  readonly cutAt: number | undefined
  /** When the rate next doubles back; undefined while at the configured rate. */
  readonly recoverAt: number | undefined
}

export const fullBucket = (limit: RateLimit, now: number): BucketState => ({
  tokens: limit.burst,
  at: now,
  rate: limit.qps / 1000,
  cutAt: undefined,
  recoverAt: undefined
})

/** The bucket at `now`: refilled at the rate of each stretch since `at`, the rate doubled back at each recovery step passed. */
export const refill = (state: BucketState, limit: RateLimit, now: number): BucketState => {
  if (now <= state.at) return state
  const configured = limit.qps / 1000
  let { rate, recoverAt, tokens } = state
  let at = state.at
  while (recoverAt !== undefined && recoverAt <= now) {
    tokens = Math.min(limit.burst, tokens + (recoverAt - at) * rate)
    at = recoverAt
    rate = Math.min(configured, rate * 2)
    recoverAt = rate < configured ? recoverAt + recoveryStepMillis : undefined
  }
  tokens = Math.min(limit.burst, tokens + (now - at) * rate)
  return { tokens, at: now, rate, cutAt: recoverAt === undefined ? undefined : state.cutAt, recoverAt }
}

export type Decision =
  | { readonly _tag: "Go"; readonly waitMillis: number }
  | { readonly _tag: "Refused"; readonly reason: ThrottleReason; readonly waitMillis: number; readonly qps: number }

/** One token for an attempt that must start by `latestStart`: now, after a wait (reserved), or refused (the bucket untouched). */
export const reserve = (state: BucketState, limit: RateLimit, now: number, latestStart: number): [Decision, BucketState] => {
  const current = refill(state, limit, now)
  const after = current.tokens - 1
  const waitMillis = after >= 0 ? 0 : -after / current.rate
  if (now + waitMillis > latestStart) {
    const reason = current.cutAt === undefined ? "limit" : "backoff"
    return [{ _tag: "Refused", reason, waitMillis, qps: current.rate * 1000 }, current]
  }
  return [
    { _tag: "Go", waitMillis },
    { ...current, tokens: after }
  ]
}

/** A reserved token given back (its call went away while waiting). */
export const giveBack = (state: BucketState, limit: RateLimit, now: number): BucketState => {
  const current = refill(state, limit, now)
  return { ...current, tokens: Math.min(limit.burst, current.tokens + 1) }
}

/** Cloud KMS answered RESOURCE_EXHAUSTED: halve the rate (once per event) and drop what the bucket holds. */
export const cut = (state: BucketState, limit: RateLimit, now: number): [boolean, BucketState] => {
  const current = refill(state, limit, now)
  if (current.cutAt !== undefined && now - current.cutAt < cutCoalesceMillis) return [false, current]
  const slowest = (limit.qps / 1000) * slowestFraction
  return [
    true,
    {
      tokens: Math.min(current.tokens, 0),
      at: now,
      rate: Math.max(slowest, current.rate / 2),
      cutAt: now,
      recoverAt: now + recoveryStepMillis
    }
  ]
}

export interface RateLimiter {
  readonly limit: RateLimit
  /** A token for an attempt that must start by `latestStart` (Clock ms): at once, after a wait, or Throttled at once. */
  readonly take: (latestStart: number) => Effect.Effect<void, Throttled>
  /** Cloud KMS answered RESOURCE_EXHAUSTED: every caller slows down. */
  readonly pushBack: Effect.Effect<void>
}

const refusals = labelled(rateLimitRefusalsSeries)
const reasons: ReadonlyArray<ThrottleReason> = ["limit", "backoff"]

export const makeRateLimiter = (limit: RateLimit): Effect.Effect<RateLimiter> =>
  Effect.gen(function* () {
    const state = yield* Ref.make(fullBucket(limit, yield* Clock.currentTimeMillis))
    yield* declareSeries([rateLimitWait, rateLimitSlowdowns, ...reasons.map((reason) => refusals({ reason }))])

    const take = (latestStart: number): Effect.Effect<void, Throttled> =>
      Clock.clockWith((clock) => {
        const now = clock.currentTimeMillisUnsafe()
        return Effect.flatMap(
          Ref.modify(state, (bucket) => reserve(bucket, limit, now, latestStart)),
          (decision) => {
            if (decision._tag === "Refused") {
              return Effect.andThen(
                Metric.update(refusals({ reason: decision.reason }), 1),
                Effect.fail(
                  new Throttled({ reason: decision.reason, waitMillis: decision.waitMillis, qps: decision.qps, limit: limit.qps })
                )
              )
            }
            const waited = Metric.update(rateLimitWait, decision.waitMillis / 1000)
            if (decision.waitMillis === 0) return waited
            // A call that goes away while waiting gives its reserved token back.
            return Effect.andThen(
              Effect.onInterrupt(Effect.sleep(decision.waitMillis), () =>
                Effect.flatMap(Clock.currentTimeMillis, (at) => Ref.update(state, (bucket) => giveBack(bucket, limit, at)))
              ),
              waited
            )
          }
        )
      })

    const pushBack = Effect.flatMap(Clock.currentTimeMillis, (now) =>
      Effect.flatMap(
        Ref.modify(state, (bucket) => cut(bucket, limit, now)),
        (didCut) =>
          didCut
            ? Effect.andThen(
                Metric.update(rateLimitSlowdowns, 1),
                Effect.logWarning("Cloud KMS answered RESOURCE_EXHAUSTED: halving the client-side rate limit for every caller")
              )
            : Effect.void
      )
    )

    return { limit, take, pushBack }
  })
