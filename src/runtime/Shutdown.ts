import * as Context from "effect/Context"
import * as Data from "effect/Data"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Ref from "effect/Ref"
import * as Runtime from "effect/Runtime"
import { pluginName } from "../version.ts"

// How the process stops. SIGTERM, SIGINT and SIGHUP all mean "drain and
// stop" (Node's default for SIGHUP is to die, which killed the Go plugin
// under `docker kill --signal=SIGHUP`). A second signal forces the exit at
// once; the socket is still removed by its exit hook. A stop that had to cut
// in-flight calls (grace period exceeded) exits 1 instead of 0.

const signals: ReadonlyArray<NodeJS.Signals> = ["SIGTERM", "SIGINT", "SIGHUP"]

/** A layer had to cut in-flight calls on the way out; already logged by that layer. */
export class ForcedShutdown extends Data.TaggedError("ForcedShutdown")<{ readonly message: string }> {
  override readonly [Runtime.errorExitCode] = 1
  override readonly [Runtime.errorReported] = false
}

export class Shutdown extends Context.Service<
  Shutdown,
  {
    /** Completes on the first SIGTERM, SIGINT or SIGHUP. */
    readonly requested: Effect.Effect<void>
    /** Called by a layer that cut in-flight calls while stopping: the process then exits 1. */
    readonly markForced: (reason: string) => Effect.Effect<void>
    readonly forcedReason: Effect.Effect<string | undefined>
  }
>()("k8s-cloudkms-plugin/runtime/Shutdown") {
  /** Listens for the stop signals from the moment it is built (before flags are even parsed). */
  static readonly layer: Layer.Layer<Shutdown> = Layer.effect(
    Shutdown,
    Effect.gen(function* () {
      const requested = yield* Deferred.make<void>()
      const forced = yield* Ref.make<string | undefined>(undefined)
      let received = 0
      const onSignal = (signal: NodeJS.Signals) => {
        received += 1
        if (received === 1) {
          Deferred.doneUnsafe(requested, Effect.void)
        } else {
          process.stderr.write(`${pluginName}: ${signal} again: exiting now, in-flight calls are cut\n`)
          process.exit(1)
        }
      }
      yield* Effect.acquireRelease(
        Effect.sync(() => {
          for (const signal of signals) process.on(signal, onSignal)
        }),
        () =>
          Effect.sync(() => {
            for (const signal of signals) process.removeListener(signal, onSignal)
          })
      )
      return Shutdown.of({
        requested: Deferred.await(requested),
        markForced: (reason) => Ref.update(forced, (already) => already ?? reason),
        forcedReason: Ref.get(forced)
      })
    })
  )

  /** No signal handlers (tests stop the plugin by closing its scope); records a forced stop. */
  static readonly layerTest: Layer.Layer<Shutdown> = Layer.effect(
    Shutdown,
    Effect.map(Ref.make<string | undefined>(undefined), (forced) =>
      Shutdown.of({
        requested: Effect.never,
        markForced: (reason) => Ref.update(forced, (already) => already ?? reason),
        forcedReason: Ref.get(forced)
      })
    )
  )
}

/**
 * Runs `program` until it ends or a stop signal arrives; then it is
 * interrupted and every finalizer runs (the socket drains and is removed). A
 * stop that had to cut calls fails with ForcedShutdown (exit code 1).
 */
export const untilSignal = <A, E, R>(program: Effect.Effect<A, E, R>): Effect.Effect<void, E | ForcedShutdown, R | Shutdown> =>
  Effect.gen(function* () {
    const shutdown = yield* Shutdown
    yield* Effect.raceFirst(Effect.asVoid(program), shutdown.requested)
    const forced = yield* shutdown.forcedReason
    if (forced !== undefined) return yield* new ForcedShutdown({ message: forced })
  })
