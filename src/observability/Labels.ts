import { status } from "@grpc/grpc-js"
import * as Effect from "effect/Effect"
import * as Metric from "effect/Metric"
import type { Labels } from "./Metrics.ts"

// How series are labelled: one cache of labelled series (made once per label
// set, not per call, each with its labels as its own attributes), and one
// spelling of gRPC status codes for the `code` and `outcome` labels, log
// fields and messages.

/** The series of a metric by labels, each made once by `series` (a `…Series` maker of Metrics.ts). */
export const labelled = <Input, State>(series: (labels: Labels) => Metric.Metric<Input, State>) => {
  const cache = new Map<string, Metric.Metric<Input, State>>()
  return (labels: Labels): Metric.Metric<Input, State> => {
    const key = Object.values(labels).join("\u0000")
    let found = cache.get(key)
    if (found === undefined) {
      found = series(labels)
      cache.set(key, found)
    }
    return found
  }
}

/**
 * Makes these series exist before their first event (counters at 0, empty
 * histograms), so `increase(...) > 0` sees the first event after a restart.
 */
export const declareSeries = (series: Iterable<Metric.Metric<number, unknown>>): Effect.Effect<void> =>
  Effect.forEach(series, Metric.value, { discard: true })

/** OK, UNAVAILABLE, …: the name of a gRPC status code (the number if it has none). */
export const statusName = (code: number): string => status[code] ?? String(code)
