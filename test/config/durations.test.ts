import { assert, describe, it } from "@effect/vitest"
import * as Option from "effect/Option"
import * as Result from "effect/Result"
import * as fc from "fast-check"
import { formatDurationMillis, parseDurationMillis } from "../../src/config/Duration.ts"
import type { PluginFlags } from "../../src/config/flags.ts"
import type { PluginConfigShape } from "../../src/config/PluginConfig.ts"
import { messageOf, parse } from "../support/config.ts"

// Every duration flag: its default, that a given value is used, the flag
// named in its error, and its minimum (some may be 0, most must be positive).

type DurationKey =
  | "kmsAttemptTimeout"
  | "kmsRetryInitialBackoff"
  | "kmsRetryMaxBackoff"
  | "kmsCallTimeout"
  | "keyRefreshInterval"
  | "shutdownGracePeriod"
  | "healthzTimeout"
  | "healthzKmsCache"
  | "fakeLatency"

interface DurationFlag {
  readonly key: DurationKey
  readonly flag: string
  readonly read: (config: PluginConfigShape) => number
  readonly defaultMillis: number
  readonly minMillis: number
}

const durationFlags: ReadonlyArray<DurationFlag> = [
  { key: "kmsAttemptTimeout", flag: "kms-attempt-timeout", read: (c) => c.retry.attemptTimeoutMillis, defaultMillis: 2_000, minMillis: 1 },
  {
    key: "kmsRetryInitialBackoff",
    flag: "kms-retry-initial-backoff",
    read: (c) => c.retry.initialBackoffMillis,
    defaultMillis: 50,
    minMillis: 1
  },
  { key: "kmsRetryMaxBackoff", flag: "kms-retry-max-backoff", read: (c) => c.retry.maxBackoffMillis, defaultMillis: 1_000, minMillis: 1 },
  { key: "kmsCallTimeout", flag: "kms-call-timeout", read: (c) => c.retry.callTimeoutMillis, defaultMillis: 10_000, minMillis: 1 },
  {
    key: "keyRefreshInterval",
    flag: "key-refresh-interval",
    read: (c) => c.keyRefreshIntervalMillis,
    defaultMillis: 60_000,
    minMillis: 100
  },
  { key: "shutdownGracePeriod", flag: "shutdown-grace-period", read: (c) => c.shutdownGraceMillis, defaultMillis: 10_000, minMillis: 0 },
  { key: "healthzTimeout", flag: "healthz-timeout", read: (c) => c.healthzTimeoutMillis, defaultMillis: 5_000, minMillis: 1 },
  { key: "healthzKmsCache", flag: "healthz-kms-cache", read: (c) => c.healthzKmsCacheMillis, defaultMillis: 5_000, minMillis: 0 },
  { key: "fakeLatency", flag: "fake-latency", read: (c) => c.fakeLatencyMillis, defaultMillis: 0, minMillis: 0 }
]

// The backoff pair must stay ordered, so give the other one room.
const given = (d: DurationFlag, raw: string): Partial<PluginFlags> =>
  d.key === "kmsRetryInitialBackoff"
    ? { kmsRetryInitialBackoff: Option.some(raw), kmsRetryMaxBackoff: Option.some("10h") }
    : d.key === "kmsRetryMaxBackoff"
      ? { kmsRetryMaxBackoff: Option.some(raw), kmsRetryInitialBackoff: Option.some("1ms") }
      : { [d.key]: Option.some(raw) }

describe("duration flags", () => {
  for (const d of durationFlags) {
    it(`--${d.flag}: defaults to ${formatDurationMillis(d.defaultMillis)}`, () => {
      assert.strictEqual(d.read(Result.getOrThrow(parse({}))), d.defaultMillis)
    })

    it(`--${d.flag}: a given duration is used, rounded to whole milliseconds`, () => {
      assert.strictEqual(d.read(Result.getOrThrow(parse(given(d, "1m30s")))), 90_000)
      assert.strictEqual(d.read(Result.getOrThrow(parse(given(d, "2400.4ms")))), 2_400)
    })

    it(`--${d.flag}: garbage is refused, naming the flag`, () => {
      assert.strictEqual(messageOf(given(d, "10 seconds")), `--${d.flag}: expected a duration such as 500ms, 3s or 1m, got "10 seconds"`)
    })

    if (d.minMillis === 0) {
      it(`--${d.flag}: may be 0`, () => {
        assert.strictEqual(d.read(Result.getOrThrow(parse(given(d, "0")))), 0)
      })
    } else {
      it(`--${d.flag}: at least ${d.minMillis}ms`, () => {
        assert.strictEqual(d.read(Result.getOrThrow(parse(given(d, `${d.minMillis}ms`)))), d.minMillis)
        const below = `${d.minMillis - 0.5}ms`
        assert.strictEqual(messageOf(given(d, below)), `--${d.flag}: must be at least ${d.minMillis}ms, got "${below}"`)
        assert.strictEqual(messageOf(given(d, "0")), `--${d.flag}: must be at least ${d.minMillis}ms, got "0"`)
      })
    }
  }
})

describe("retry backoff", () => {
  it("the longest backoff may equal the first one, not be shorter", () => {
    const equal = Result.getOrThrow(parse({ kmsRetryInitialBackoff: Option.some("1s"), kmsRetryMaxBackoff: Option.some("1000ms") }))
    assert.strictEqual(equal.retry.maxBackoffMillis, 1_000)
    assert.strictEqual(
      messageOf({ kmsRetryMaxBackoff: Option.some("49ms") }),
      "--kms-retry-max-backoff: must not be shorter than --kms-retry-initial-backoff"
    )
  })

  it("an invalid backoff gets its own message only, not a misleading order problem too", () => {
    assert.strictEqual(
      messageOf({ kmsRetryInitialBackoff: Option.some("soon"), kmsRetryMaxBackoff: Option.some("10ms") }),
      messageOf({ kmsRetryInitialBackoff: Option.some("soon") })
    )
    assert.notInclude(messageOf({ kmsRetryInitialBackoff: Option.some("soon"), kmsRetryMaxBackoff: Option.some("10ms") }), "shorter")
    assert.notInclude(messageOf({ kmsRetryInitialBackoff: Option.some("2s"), kmsRetryMaxBackoff: Option.some("-") }), "shorter")
  })
})

describe("Go-style durations", () => {
  it("a number too large to hold is not a duration", () => {
    assert.isUndefined(parseDurationMillis(`${"9".repeat(400)}h`))
  })

  it("any sum of parts is the sum of each part", () => {
    const unit = fc.constantFrom(["h", 3_600_000], ["m", 60_000], ["s", 1_000], ["ms", 1], ["us", 0.001], ["µs", 0.001], ["ns", 0.000001])
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.nat({ max: 1000 }), unit), { minLength: 1, maxLength: 5 }), (parts) => {
        const text = parts.map(([n, [u]]) => `${n}${u}`).join("")
        const expected = parts.reduce((sum, [n, [, ms]]) => sum + n * ms, 0)
        assert.closeTo(parseDurationMillis(text) ?? Number.NaN, expected, 1e-6, text)
      })
    )
  })

  it("formats with the largest unit that divides it exactly", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 1000 }), (n) => {
        assert.strictEqual(formatDurationMillis(n * 3_600_000), `${n}h`)
        assert.strictEqual(formatDurationMillis(n * 3_600_000 + 60_000), `${n * 60 + 1}m`)
        assert.strictEqual(formatDurationMillis(n * 60_000 + 1_000), `${n * 60 + 1}s`)
        assert.strictEqual(formatDurationMillis(n * 1_000 + 1), `${n * 1_000 + 1}ms`)
      })
    )
  })
})
