import * as Effect from "effect/Effect"
import * as Metric from "effect/Metric"
import * as Schedule from "effect/Schedule"
import { coalescedDecrypts } from "../../src/observability/Metrics.ts"

// Decrypts that joined an identical Decrypt in flight (the plugin's own
// kms_plugin_decrypt_coalesced_total, process-wide), to wait on the join
// itself rather than on a latency long enough for it.

/** How many Decrypts have joined another's flight so far. */
export const joinedFlights: Effect.Effect<number> = Effect.map(Metric.value(coalescedDecrypts), (state) => state.count)

/** Waits (polling, for 10 s at most) until joinedFlights reaches `count`. */
export const awaitJoinedFlights = (count: number): Effect.Effect<void, string> =>
  joinedFlights.pipe(
    Effect.flatMap((joined) => (joined >= count ? Effect.void : Effect.fail(`${joined} of ${count} Decrypts joined a flight`))),
    Effect.retry(Schedule.spaced("10 millis").pipe(Schedule.upTo({ times: 1_000 })))
  )
