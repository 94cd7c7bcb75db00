import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as HashMap from "effect/HashMap"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import * as SynchronizedRef from "effect/SynchronizedRef"

// Concurrent identical requests share one flight. The result lives only as
// long as the flight: the entry is dropped the moment it settles, so nothing
// (no plaintext) is cached beyond it.
//
// Each caller waits until its own answer is due, then leaves with its own
// error; the flight goes on while anyone waits. The flight is told when its
// answer is due, the latest due among the callers still waiting, and reads
// it as it goes: a caller joining with more time moves it later, one leaving
// may bring it earlier. When the last caller leaves, the flight is
// interrupted.

/** One caller of a flight. */
export interface Caller<E> {
  /** When its answer is due (Clock ms). None: it sets no bound on the flight. */
  readonly due?: number | undefined
  /** With `due`: the caller stops waiting then and fails with this (unless the flight has just ended). None: it waits the flight out. */
  readonly orElse?: (() => E) | undefined
}

/** When the flight's answer is due: the latest due among the callers waiting (+Infinity if one sets none). */
export type FlightDue = Effect.Effect<number>

export interface SingleFlight<A, E> {
  /** Runs `flight` for `key`, or joins the flight already running for it. */
  readonly run: (key: string, flight: (due: FlightDue) => Effect.Effect<A, E>, caller?: Caller<E>) => Effect.Effect<A, E>
  /** Flights in the air right now. */
  readonly size: Effect.Effect<number>
}

interface Flight<A, E> {
  /** Tells this flight from a later one for the same key. */
  readonly id: number
  readonly fiber: Fiber.Fiber<A, E>
  /** The callers waiting: when each wants its answer, by caller id. */
  readonly waiting: HashMap.HashMap<number, number>
}

interface State<A, E> {
  /** The next flight or caller id. */
  readonly nextId: number
  readonly flights: HashMap.HashMap<string, Flight<A, E>>
}

/** A caller on board: its flight, and whether someone else started it. */
interface Boarded<A, E> {
  readonly flight: Flight<A, E>
  readonly callerId: number
  readonly joining: boolean
}

const latest = (waiting: HashMap.HashMap<number, number>): number =>
  HashMap.reduce(waiting, Number.NEGATIVE_INFINITY, (latest, due) => Math.max(latest, due))

export const makeSingleFlight = <A, E>(
  onJoin: Effect.Effect<void> = Effect.void
): Effect.Effect<SingleFlight<A, E>, never, Scope.Scope> =>
  Effect.gen(function*() {
    const scope = yield* Effect.scope
    const state = yield* SynchronizedRef.make<State<A, E>>({ nextId: 0, flights: HashMap.empty() })

    const flightOf = (all: State<A, E>, key: string, id: number) =>
      Option.filter(HashMap.get(all.flights, key), (flight) => flight.id === id)

    // Until the flight is in the map (it starts once its first caller has put
    // it there), and after its last caller left, the first caller's due.
    const dueOf = (key: string, id: number, first: number): FlightDue =>
      Effect.map(SynchronizedRef.get(state), (all) =>
        Option.match(flightOf(all, key, id), { onNone: () => first, onSome: (flight) => latest(flight.waiting) }))

    const drop = (key: string, id: number) =>
      SynchronizedRef.update(state, (all) =>
        Option.isSome(flightOf(all, key, id)) ? { ...all, flights: HashMap.remove(all.flights, key) } : all)

    /** Starts the flight for `key` with its first caller, or adds the caller to the one running. */
    const board = (key: string, flight: (due: FlightDue) => Effect.Effect<A, E>, due: number) =>
      SynchronizedRef.modifyEffect(state, (all): Effect.Effect<readonly [Boarded<A, E>, State<A, E>]> => {
        const callerId = all.nextId
        return Option.match(HashMap.get(all.flights, key), {
          onSome: (running) => {
            const joined = { ...running, waiting: HashMap.set(running.waiting, callerId, due) }
            return Effect.succeed([
              { flight: joined, callerId, joining: true },
              { nextId: callerId + 1, flights: HashMap.set(all.flights, key, joined) }
            ])
          },
          onNone: () => {
            const id = callerId + 1
            return Effect.map(
              Effect.forkIn(Effect.ensuring(flight(dueOf(key, id, due)), drop(key, id)), scope),
              (fiber) => {
                const started = { id, fiber, waiting: HashMap.make([callerId, due]) }
                return [
                  { flight: started, callerId, joining: false },
                  { nextId: id + 1, flights: HashMap.set(all.flights, key, started) }
                ]
              }
            )
          }
        })
      })

    /** The caller is gone: the flight no longer works for it; the last one out interrupts it (without waiting for it to stop). */
    const leave = (key: string, { callerId, flight }: Boarded<A, E>) =>
      SynchronizedRef.modify(state, (all): readonly [boolean, State<A, E>] =>
        Option.match(flightOf(all, key, flight.id), {
          onNone: () => [false, all],
          onSome: (now) => {
            const waiting = HashMap.remove(now.waiting, callerId)
            return HashMap.isEmpty(waiting)
              ? [true, { ...all, flights: HashMap.remove(all.flights, key) }]
              : [false, { ...all, flights: HashMap.set(all.flights, key, { ...now, waiting }) }]
          }
        })).pipe(Effect.flatMap((last) => last ? Effect.asVoid(Effect.forkIn(Fiber.interrupt(flight.fiber), scope)) : Effect.void))

    /** Waits for the flight until `due`; then its answer if it has just come, else `orElse`. */
    const waitUntil = (fiber: Fiber.Fiber<A, E>, due: number, orElse: () => E) =>
      Effect.flatMap(Clock.currentTimeMillis, (now) =>
        Effect.timeoutOrElse(Fiber.join(fiber), {
          duration: Math.max(0, due - now),
          orElse: () =>
            Effect.andThen(
              Effect.yieldNow,
              Effect.suspend((): Effect.Effect<A, E> => fiber.pollUnsafe() ?? Effect.fail(orElse()))
            )
        }))

    const run = (key: string, flight: (due: FlightDue) => Effect.Effect<A, E>, caller: Caller<E> = {}): Effect.Effect<A, E> =>
      Effect.uninterruptibleMask((restore) =>
        Effect.gen(function*() {
          const due = caller.due ?? Number.POSITIVE_INFINITY
          const boarded = yield* board(key, flight, due)
          if (boarded.joining) yield* onJoin
          const { fiber } = boarded.flight
          const wait = caller.orElse === undefined || caller.due === undefined ? Fiber.join(fiber) : waitUntil(fiber, caller.due, caller.orElse)
          return yield* restore(wait).pipe(Effect.ensuring(leave(key, boarded)))
        })
      )

    return { run, size: Effect.map(SynchronizedRef.get(state), (all) => HashMap.size(all.flights)) }
  })
