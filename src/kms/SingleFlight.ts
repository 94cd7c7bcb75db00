import * as Clock from "effect/Clock"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import type * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as HashMap from "effect/HashMap"
import * as Option from "effect/Option"
import type * as Scope from "effect/Scope"
import * as SynchronizedRef from "effect/SynchronizedRef"

// Concurrent identical requests share one flight. The result lives only as
// long as the flight: the entry is dropped the moment it settles, so nothing
// (no plaintext) is cached beyond it.
//
// The flight is told when its answer is due: the latest due among the
// callers still waiting, which it reads as it goes (a caller joining with
// more time moves it later; the one with the most time leaving brings it
// back). Each caller still answers by its own due: one whose due is the
// latest needs no timer (the flight ends by then), the others stop waiting
// at theirs with their own error. When the last caller leaves, the flight
// is interrupted.

/** One caller of a flight. */
export interface Caller<E> {
  /** When its answer is due (Clock ms). None: it sets no bound on the flight. */
  readonly due?: number | undefined
  /** With `due`: what the caller fails with if the flight has not answered by then. None: it waits the flight out. */
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

interface Waiter<A, E> {
  readonly due: number
  readonly answer: Deferred.Deferred<A, E>
  readonly orElse: (() => E) | undefined
  /** Gives the caller its own answer at its due; none while the flight itself ends by then. */
  readonly timer: Fiber.Fiber<boolean> | undefined
}

interface Flight<A, E> {
  /** Tells this flight from a later one for the same key. */
  readonly id: number
  readonly fiber: Fiber.Fiber<A, E>
  /** The callers waiting, by caller id. */
  readonly waiting: HashMap.HashMap<number, Waiter<A, E>>
  /** The latest due among them. */
  readonly latest: number
  /** Callers with an `orElse` but no timer yet: their due is `latest`. */
  readonly untimed: ReadonlyArray<number>
}

interface State<A, E> {
  /** The next flight or caller id. */
  readonly nextId: number
  readonly flights: HashMap.HashMap<string, Flight<A, E>>
}

/** A caller gone: its timer to stop, and the flight to interrupt if it was the last one. */
interface Gone<A, E> {
  readonly waiter: Waiter<A, E>
  readonly last: Fiber.Fiber<A, E> | undefined
}

/** A caller on board: where its answer will be, and whether someone else started the flight. */
interface Boarded<A, E> {
  readonly flightId: number
  readonly callerId: number
  readonly answer: Deferred.Deferred<A, E>
  readonly joining: boolean
}

const latestOf = <A, E>(waiting: HashMap.HashMap<number, Waiter<A, E>>): number =>
  HashMap.reduce(waiting, Number.NEGATIVE_INFINITY, (latest, waiter) => Math.max(latest, waiter.due))

export const makeSingleFlight = <A, E>(onJoin: Effect.Effect<void> = Effect.void): Effect.Effect<SingleFlight<A, E>, never, Scope.Scope> =>
  Effect.gen(function* () {
    const scope = yield* Effect.scope
    const state = yield* SynchronizedRef.make<State<A, E>>({ nextId: 0, flights: HashMap.empty() })

    const flightOf = (all: State<A, E>, key: string, id: number) =>
      Option.filter(HashMap.get(all.flights, key), (flight) => flight.id === id)
    const withFlight = (all: State<A, E>, key: string, flight: Flight<A, E>): State<A, E> => ({
      ...all,
      flights: HashMap.set(all.flights, key, flight)
    })
    const withoutFlight = (all: State<A, E>, key: string): State<A, E> => ({ ...all, flights: HashMap.remove(all.flights, key) })

    // Until the flight is in the map (it starts once its first caller has put
    // it there), and after its last caller left, the first caller's due.
    const dueOf = (key: string, id: number, first: number): FlightDue =>
      Effect.map(SynchronizedRef.get(state), (all) =>
        Option.match(flightOf(all, key, id), { onNone: () => first, onSome: (flight) => flight.latest })
      )

    /** Gives a waiter its own answer at its due. */
    const timerFor = (waiter: Waiter<A, E>, orElse: () => E) =>
      Effect.forkIn(
        Effect.flatMap(Clock.currentTimeMillis, (now) =>
          Effect.andThen(
            Effect.sleep(Math.max(0, waiter.due - now)),
            Effect.suspend(() => Deferred.fail(waiter.answer, orElse()))
          )
        ),
        scope
      )

    /** The flight has ended: every caller still waiting gets its outcome. */
    const settle = (key: string, id: number, exit: Exit.Exit<A, E>) =>
      SynchronizedRef.modify(state, (all): readonly [ReadonlyArray<Waiter<A, E>>, State<A, E>] =>
        Option.match(flightOf(all, key, id), {
          onNone: () => [[], all],
          onSome: (flight) => [HashMap.toValues(flight.waiting), withoutFlight(all, key)]
        })
      ).pipe(
        Effect.flatMap((waiters) =>
          Effect.forEach(
            waiters,
            (waiter) =>
              Effect.andThen(Deferred.done(waiter.answer, exit), waiter.timer === undefined ? Effect.void : Fiber.interrupt(waiter.timer)),
            {
              discard: true
            }
          )
        )
      )

    const start = (
      all: State<A, E>,
      key: string,
      flight: (due: FlightDue) => Effect.Effect<A, E>,
      newcomer: Waiter<A, E>,
      callerId: number
    ): Effect.Effect<readonly [Boarded<A, E>, State<A, E>]> => {
      const id = callerId + 1
      return Effect.map(
        Effect.forkIn(
          Effect.onExit(flight(dueOf(key, id, newcomer.due)), (exit) => settle(key, id, exit)),
          scope
        ),
        (fiber) => {
          const started: Flight<A, E> = {
            id,
            fiber,
            waiting: HashMap.make([callerId, newcomer]),
            latest: newcomer.due,
            untimed: newcomer.orElse === undefined ? [] : [callerId]
          }
          return [
            { flightId: id, callerId, answer: newcomer.answer, joining: false },
            {
              nextId: id + 1,
              flights: HashMap.set(all.flights, key, started)
            }
          ]
        }
      )
    }

    const join = (
      all: State<A, E>,
      key: string,
      running: Flight<A, E>,
      newcomer: Waiter<A, E>,
      callerId: number
    ): Effect.Effect<readonly [Boarded<A, E>, State<A, E>]> => {
      const latest = Math.max(running.latest, newcomer.due)
      // The flight now works past the due of those who relied on it to end by theirs: they get timers.
      const raised = latest > running.latest ? running.untimed : []
      const untimed = raised.length > 0 ? [] : running.untimed
      const newcomerUntimed = newcomer.orElse !== undefined && newcomer.due >= latest
      const toTime: Array<readonly [number, Waiter<A, E>]> = raised.flatMap((id) =>
        Option.toArray(HashMap.get(running.waiting, id)).map((waiter) => [id, waiter] as const)
      )
      if (newcomer.orElse !== undefined && !newcomerUntimed) toTime.push([callerId, newcomer])
      return Effect.map(
        Effect.forEach(toTime, ([id, waiter]) =>
          waiter.orElse === undefined
            ? Effect.succeed([id, waiter] as const)
            : Effect.map(timerFor(waiter, waiter.orElse), (timer) => [id, { ...waiter, timer }] as const)
        ),
        (timed) => {
          const waiting = timed.reduce(
            (waiting, [id, waiter]) => HashMap.set(waiting, id, waiter),
            HashMap.set(running.waiting, callerId, newcomer)
          )
          const joined: Flight<A, E> = { ...running, waiting, latest, untimed: newcomerUntimed ? [...untimed, callerId] : untimed }
          return [
            { flightId: running.id, callerId, answer: newcomer.answer, joining: true },
            {
              nextId: callerId + 1,
              flights: HashMap.set(all.flights, key, joined)
            }
          ]
        }
      )
    }

    /** Starts the flight for `key` with its first caller, or adds the caller to the one running. */
    const board = (key: string, flight: (due: FlightDue) => Effect.Effect<A, E>, due: number, orElse: (() => E) | undefined) =>
      SynchronizedRef.modifyEffect(state, (all) => {
        const callerId = all.nextId
        const newcomer: Waiter<A, E> = { due, answer: Deferred.makeUnsafe<A, E>(), orElse, timer: undefined }
        const running = HashMap.get(all.flights, key)
        return Option.isNone(running) ? start(all, key, flight, newcomer, callerId) : join(all, key, running.value, newcomer, callerId)
      })

    /** The caller is gone: the flight no longer works for it; the last one out interrupts it (without waiting for it to stop). */
    const leave = (key: string, { callerId, flightId }: Boarded<A, E>) =>
      SynchronizedRef.modify(state, (all): readonly [Gone<A, E> | undefined, State<A, E>] => {
        const flight = flightOf(all, key, flightId)
        const waiter = Option.flatMap(flight, (f) => HashMap.get(f.waiting, callerId))
        if (Option.isNone(flight) || Option.isNone(waiter)) return [undefined, all]
        const waiting = HashMap.remove(flight.value.waiting, callerId)
        if (HashMap.isEmpty(waiting)) return [{ waiter: waiter.value, last: flight.value.fiber }, withoutFlight(all, key)]
        const left: Flight<A, E> = {
          ...flight.value,
          waiting,
          latest: waiter.value.due === flight.value.latest ? latestOf(waiting) : flight.value.latest,
          untimed: flight.value.untimed.filter((id) => id !== callerId)
        }
        return [{ waiter: waiter.value, last: undefined }, withFlight(all, key, left)]
      }).pipe(
        Effect.flatMap((gone) => {
          if (gone === undefined) return Effect.void
          const { last, waiter } = gone
          return Effect.andThen(
            waiter.timer === undefined ? Effect.void : Fiber.interrupt(waiter.timer),
            last === undefined ? Effect.void : Effect.asVoid(Effect.forkIn(Fiber.interrupt(last), scope))
          )
        })
      )

    const run = (key: string, flight: (due: FlightDue) => Effect.Effect<A, E>, caller: Caller<E> = {}): Effect.Effect<A, E> =>
      Effect.uninterruptibleMask((restore) =>
        Effect.flatMap(
          board(key, flight, caller.due ?? Number.POSITIVE_INFINITY, caller.due === undefined ? undefined : caller.orElse),
          (boarded) => {
            const wait = restore(Deferred.await(boarded.answer)).pipe(Effect.ensuring(leave(key, boarded)))
            return boarded.joining ? Effect.andThen(onJoin, wait) : wait
          }
        )
      )

    return { run, size: Effect.map(SynchronizedRef.get(state), (all) => HashMap.size(all.flights)) }
  })
