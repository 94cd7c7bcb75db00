import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"

// Node's process warnings (a library's MetadataLookupWarning, a deprecation)
// as the plugin's own log records, level warn, instead of the line Node prints
// on stderr (`(node:123) MetadataLookupWarning: …`), which breaks parsers that
// expect one JSON object per line. Node's printer is the 'warning' listener it
// installs at start: it is set aside while this layer lives, and put back after.

const recordOf = (warning: Error) => {
  const code = "code" in warning && typeof warning.code === "string" ? { code: warning.code } : {}
  return Effect.logWarning(warning.message).pipe(Effect.annotateLogs({ name: warning.name, ...code }))
}

/** Process warnings logged through the logger in scope (provide Logging below it). */
export const layer: Layer.Layer<never> = Layer.effectDiscard(
  Effect.gen(function* () {
    const log = Effect.runSyncWith(yield* Effect.context<never>())
    const onWarning = (warning: Error) => void log(recordOf(warning))
    yield* Effect.acquireRelease(
      Effect.sync(() => {
        const nodePrinters = process.listeners("warning")
        process.removeAllListeners("warning")
        process.on("warning", onWarning)
        return nodePrinters
      }),
      (nodePrinters) =>
        Effect.sync(() => {
          process.removeListener("warning", onWarning)
          for (const printer of nodePrinters) process.on("warning", printer)
        })
    )
  })
)
