import * as Effect from "effect/Effect"

/** Sets these env vars (undefined: unsets) for the scope, restoring what was there before. */
export const withEnv = (vars: Readonly<Record<string, string | undefined>>) =>
  Effect.acquireRelease(
    Effect.sync(() => {
      const before = Object.keys(vars).map((name) => [name, process.env[name]] as const)
      for (const [name, value] of Object.entries(vars)) {
        if (value === undefined) delete process.env[name]
        else process.env[name] = value
      }
      return before
    }),
    (before) =>
      Effect.sync(() => {
        for (const [name, value] of before) {
          if (value === undefined) delete process.env[name]
          else process.env[name] = value
        }
      })
  )
