import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import type * as Scope from "effect/Scope"

// Concurrent identical requests share one flight. The result lives only as
// long as the flight: the entry is dropped the moment it settles, so nothing
// (no plaintext) is cached beyond it. The flight is interrupted only when
// every caller waiting on it has gone.

export interface SingleFlight<A, E> {
  /** Runs `effect` for `key`, or joins the flight already running for it. */
  readonly run: (key: string, effect: Effect.Effect<A, E>) => Effect.Effect<A, E>
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
  const run = (key: string, effect: Effect.Effect<A, E>): Effect.Effect<A, E> =>
    Effect.uninterruptibleMask((restore) =>
      Effect.gen(function*() {
        let flight = flights.get(key)
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
        return yield* restore(Fiber.join(joined.fiber)).pipe(
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
