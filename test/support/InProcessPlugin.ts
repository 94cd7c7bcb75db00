import * as path from "node:path"
import * as Context from "effect/Context"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as Option from "effect/Option"
import * as Scope from "effect/Scope"
import type { ConfigError } from "../../src/config/ConfigError.ts"
import type { PluginFlags } from "../../src/config/flags.ts"
import { PluginConfig } from "../../src/config/PluginConfig.ts"
import { CallObserver, type CallOutcome, logFailedCall } from "../../src/grpc/CallObserver.ts"
import { GrpcServer } from "../../src/grpc/GrpcServer.ts"
import * as FakeKms from "../../src/kms/fake/FakeKms.ts"
import { KeyManagement, type KeyManagementShape } from "../../src/kms/KeyManagement.ts"
import { Shutdown } from "../../src/runtime/Shutdown.ts"
import type { StartupError } from "../../src/runtime/StartupError.ts"
import { configFrom, fakeKeyUri } from "./TestPlugin.ts"
import { tempDir } from "./tempDir.ts"

// The gRPC server in this process, built inside the test (so a mutation run
// sees which test covers which line), with a scope the test can close itself
// to watch the shutdown, its log lines and every call outcome.

export interface Served {
  readonly target: string
  readonly socketPath: string
  /** Every log message, as text, in order. */
  readonly lines: Array<string>
  /** Every call outcome the server reported, in order. */
  readonly outcomes: Array<CallOutcome>
  /** Waits until at least n outcomes were reported (the observer runs after the answer is sent). */
  readonly awaitOutcomes: (n: number) => Effect.Effect<ReadonlyArray<CallOutcome>>
  readonly shutdown: Shutdown["Service"]
  /** Releases the server (drain, grace period, socket removal) now. */
  readonly stop: Effect.Effect<void>
}

export interface ServeOptions {
  readonly flags?: Partial<PluginFlags>
  /** Defaults to the fake backend. */
  readonly kms?: KeyManagementShape
  /** Defaults to <temp dir>/kms.sock. */
  readonly socketPath?: string
}

export const serve = (options: ServeOptions = {}): Effect.Effect<Served, ConfigError | StartupError, Scope.Scope> =>
  Effect.gen(function*() {
    const dir = yield* tempDir
    const socketPath = options.socketPath ?? path.join(dir, "kms.sock")
    const config = configFrom({
      kmsBackend: Option.some("fake"),
      keyUri: Option.some(fakeKeyUri),
      pathToUnixSocket: Option.some(socketPath),
      ...options.flags
    })
    const lines: Array<string> = []
    const outcomes: Array<CallOutcome> = []
    const capture = Logger.make((entry) => {
      lines.push(Array.isArray(entry.message) ? entry.message.join(" ") : String(entry.message))
    })
    const waiters: Array<{ readonly n: number; readonly done: Deferred.Deferred<ReadonlyArray<CallOutcome>> }> = []
    const wake = () => Effect.forEach(waiters.filter((w) => w.n <= outcomes.length), (w) => Deferred.succeed(w.done, [...outcomes]))
    const observer = CallObserver.of({
      observe: (outcome) =>
        Effect.sync(() => void outcomes.push(outcome)).pipe(
          Effect.andThen(logFailedCall(outcome)),
          Effect.andThen(Effect.suspend(wake))
        )
    })
    const awaitOutcomes = (n: number) =>
      Effect.gen(function*() {
        const done = yield* Deferred.make<ReadonlyArray<CallOutcome>>()
        waiters.push({ n, done })
        yield* Effect.suspend(wake)
        return yield* Deferred.await(done)
      })
    const kms = options.kms === undefined ? FakeKms.layer : Layer.succeed(KeyManagement, options.kms)
    const scope = yield* Effect.acquireRelease(Scope.make(), (scope) => Scope.close(scope, Exit.void))
    const context = yield* Layer.buildWithScope(
      GrpcServer.layer.pipe(
        Layer.provide(Layer.mergeAll(kms, Layer.succeed(CallObserver, observer))),
        Layer.provide(PluginConfig.layerTest(config)),
        Layer.provideMerge(Shutdown.layerTest),
        Layer.provide(Logger.layer([capture]))
      ),
      scope
    )
    return {
      target: Context.get(context, GrpcServer).target,
      socketPath,
      lines,
      outcomes,
      awaitOutcomes,
      shutdown: Context.get(context, Shutdown),
      stop: Scope.close(scope, Exit.void)
    }
  })

/** A KMS whose encrypt starts and never finishes, telling the test of both its start and its interruption. */
export const stuckKms = (started: Deferred.Deferred<void>, interrupted: Deferred.Deferred<void>): KeyManagementShape => ({
  status: Effect.succeed({ keyVersion: undefined, problem: "stuck" }),
  encrypt: () =>
    Effect.andThen(Deferred.succeed(started, undefined), Effect.never).pipe(
      Effect.onInterrupt(() => Deferred.succeed(interrupted, undefined))
    ),
  decrypt: () => Effect.never,
  missingPermissions: Effect.succeed([])
})
