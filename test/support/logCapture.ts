import * as Effect from "effect/Effect"
import * as Logger from "effect/Logger"
import * as References from "effect/References"

// What the code under test logged, kept in memory: each line as a record
// (message, level, annotations), as its text, and as "Level text"; and a way
// to wait until enough lines have arrived.

export interface LogLine {
  readonly message: string
  readonly level: string
  readonly annotations: Readonly<Record<string, unknown>>
}

/** A logger that keeps every line it is given; the arrays are live. */
export const lineCollector = () => {
  const lines: Array<LogLine> = []
  const messages: Array<string> = []
  const leveled: Array<string> = []
  const listeners: Array<() => void> = []
  const capture = Logger.make((options) => {
    const message = Array.isArray(options.message) ? options.message.join(" ") : String(options.message)
    lines.push({ message, level: options.logLevel, annotations: { ...options.fiber.getRef(References.CurrentLogAnnotations) } })
    messages.push(message)
    leveled.push(`${options.logLevel} ${message}`)
    for (const listener of listeners.splice(0)) listener()
  })
  /** Waits until at least `count` lines were logged. */
  const waitForLines = (count: number): Effect.Effect<void> =>
    Effect.suspend(() =>
      lines.length >= count
        ? Effect.void
        : Effect.andThen(
            Effect.callback<void>((resume) => {
              listeners.push(() => resume(Effect.void))
            }),
            waitForLines(count)
          )
    )
  return { lines, messages, leveled, capture, layer: Logger.layer([capture]), waitForLines }
}

/** A logger keeping every line (Debug included) of the effect it is provided to. */
export const capturingLogs = () => {
  const { capture, lines, messages } = lineCollector()
  const provide = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
    effect.pipe(Effect.provide(Logger.layer([capture])), Effect.provideService(References.MinimumLogLevel, "Debug"))
  return { lines, provide, messages: () => [...messages] }
}
