import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import type * as Scope from "effect/Scope"

// Concurrent identical requests share one flight. The result lives only as
// long as the flight: the entry is dropped the moment it settles, so nothing
// (no plaintext) is cached beyond it. The flight is interrupted only when
// every caller waiting on it has gone.

/** How long a caller joining someone else's flight waits, and what it gets then. */
export interface JoinBound<E> {
  readonly millis: number
  readonly orElse: () => E
}

export interface SingleFlight<A, E> {
  /**
   * Runs `effect` for `key`, or joins the flight already running for it. A
   * joiner waits at most `bound` (its own deadline may be shorter than the
   * flight's); the flight goes on for the others.
   */
  readonly run: (key: string, effect: Effect.Effect<A, E>, bound?: JoinBound<E>) => Effect.Effect<A, E>
  /** Flights in the air right now. */
  readonly size: () => number
}

interface Flight<A, E> {
  readonly fiber: Fiber.Fiber<A, E>
  waiters: number
}

export const makeSingleFlight = <A, E>(
  scope: Scope.Scope,
  onJoin: Effect.Effect<void> = Effect.void
): SingleFlight<A, E> => {
  const flights = new Map<string, Flight<A, E>>()
  const run = (key: string, effect: Effect.Effect<A, E>, bound?: JoinBound<E>): Effect.Effect<A, E> =>
    Effect.uninterruptibleMask((restore) =>
      Effect.gen(function*() {
        let flight = flights.get(key)
        const joining = flight !== undefined
        if (flight === undefined) {
          const fiber = yield* Effect.forkIn(Effect.ensuring(effect, Effect.sync(() => flights.delete(key))), scope)
          flight = { fiber, waiters: 0 }
          // The fiber may already be done (synchronous effect); only keep live flights.
          if (fiber.pollUnsafe() === undefined) flights.set(key, flight)
        } else {
          yield* onJoin
        }
        const joined = flight
        joined.waiters += 1
        const wait = joining && bound !== undefined
          ? Effect.timeoutOrElse(Fiber.join(joined.fiber), { duration: Math.max(0, bound.millis), orElse: () => Effect.fail(bound.orElse()) })
          : Fiber.join(joined.fiber)
        return yield* restore(wait).pipe(
          Effect.onInterrupt(() =>
            joined.waiters === 1 ? Fiber.interrupt(joined.fiber) : Effect.void
          ),
          Effect.ensuring(Effect.sync(() => {
            joined.waiters -= 1
          }))
        )
      })
    )
  return { run, size: () => flights.size }
}
