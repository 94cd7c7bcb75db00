import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import type { KeyManagementDouble } from "./InProcessPlugin.ts"

// KeyManagement test doubles for the in-process plugin (its `backend` option).

/** A KMS whose encrypt starts and never finishes, telling the test of both its start and its interruption. */
export const stuckKms = (started: Deferred.Deferred<void>, interrupted: Deferred.Deferred<void>): KeyManagementDouble => ({
  status: Effect.succeed({ keyVersion: undefined, problem: "stuck" }),
  encrypt: () =>
    Effect.andThen(Deferred.succeed(started, undefined), Effect.never).pipe(
      Effect.onInterrupt(() => Deferred.succeed(interrupted, undefined))
    ),
  decrypt: () => Effect.never,
  missingPermissions: Effect.succeed([])
})
