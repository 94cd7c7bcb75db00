import * as Context from "effect/Context"
import * as Effect from "effect/Effect"

/**
 * How the process is ending. Layers report a forced shutdown (grace period
 * exceeded) here; the runner turns that into exit code 1 instead of 0.
 */
export interface ShutdownShape {
  readonly markForced: (reason: string) => Effect.Effect<void>
  readonly forcedReason: () => string | undefined
}

export class Shutdown extends Context.Service<Shutdown, ShutdownShape>()("k8s-cloudkms-plugin/runtime/Shutdown") {}

export const makeShutdown = (): ShutdownShape => {
  let reason: string | undefined
  return {
    markForced: (why) => Effect.sync(() => void (reason ??= why)),
    forcedReason: () => reason
  }
}
