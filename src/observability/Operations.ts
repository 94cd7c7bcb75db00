import * as Effect from "effect/Effect"
import * as Tracer from "effect/Tracer"

// How a service method names what it does, for traces and logs, at the price
// it is worth on the hot path. With a tracing backend installed, a span of
// that name (as Effect.fn gives). With Effect's native tracer, which keeps
// spans nowhere (its documentation says to compare against it and skip work
// only a backend could observe), the span would cost ~6 µs a call for
// nothing: the name goes on the method's log lines instead (`operation`), for
// ~0.3 µs.

export type Named = <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>

/** Decided once, from the tracer in context when the service is built. */
export const operationNamer: Effect.Effect<(name: string) => Named> = Effect.map(Effect.tracer, (tracer) =>
  tracer === Tracer.nativeTracer
    ? (name) => (effect) => Effect.annotateLogs(effect, "operation", name)
    : (name) => (effect) => Effect.withSpan(effect, name)
)
