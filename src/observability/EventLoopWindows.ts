import { monitorEventLoopDelay } from "node:perf_hooks"
import * as Effect from "effect/Effect"

// Event-loop delay over fixed windows on the plugin's own timer. A scrape
// only reads the last completed window, so it resets nothing: two Prometheus
// replicas scraping at different moments see the same figures.

/** Length of one window, in seconds (documented in the metrics' HELP and the README). */
export const eventLoopWindowSeconds = 10

/** The delay figures of one window, in seconds. All 0 until the first window completes. */
export interface EventLoopWindow {
  readonly min: number
  readonly max: number
  readonly mean: number
  readonly stddev: number
  readonly p50: number
  readonly p90: number
  readonly p99: number
  /** Time from the window's end until a setImmediate callback ran (prom-client's nodejs_eventloop_lag_seconds). */
  readonly lag: number
}

export const emptyWindow: EventLoopWindow = { min: 0, max: 0, mean: 0, stddev: 0, p50: 0, p90: 0, p99: 0, lag: 0 }

// The histogram samples every 10 ms (prom-client's default resolution).
const resolutionMillis = 10

const seconds = (nanos: number): number => nanos / 1e9

/** Starts the sampler and its window timer (stopped with the scope); returns a reader of the last completed window. */
export const makeEventLoopWindows = (windowSeconds: number = eventLoopWindowSeconds) =>
  Effect.gen(function* () {
    const histogram = yield* Effect.acquireRelease(
      Effect.sync(() => {
        const created = monitorEventLoopDelay({ resolution: resolutionMillis })
        created.enable()
        return created
      }),
      (created) => Effect.sync(() => created.disable())
    )
    let last = emptyWindow
    // Read and reset at the window's end, then publish once a setImmediate
    // has measured the loop's lag: a scrape sees a whole window or the previous one.
    const closeWindow = Effect.callback<void>((resume) => {
      const figures =
        histogram.count === 0
          ? emptyWindow
          : {
              min: seconds(histogram.min),
              max: seconds(histogram.max),
              mean: seconds(histogram.mean),
              stddev: seconds(histogram.stddev),
              p50: seconds(histogram.percentile(50)),
              p90: seconds(histogram.percentile(90)),
              p99: seconds(histogram.percentile(99)),
              lag: 0
            }
      histogram.reset()
      const start = process.hrtime.bigint()
      const immediate = setImmediate(() => {
        last = { ...figures, lag: Number(process.hrtime.bigint() - start) / 1e9 }
        resume(Effect.void)
      })
      return Effect.sync(() => clearImmediate(immediate))
    })
    yield* Effect.forkScoped(Effect.forever(Effect.andThen(Effect.sleep(`${windowSeconds} seconds`), closeWindow)))
    return (): EventLoopWindow => last
  })
