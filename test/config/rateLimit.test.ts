import { assert, describe, it } from "@effect/vitest"
import * as Option from "effect/Option"
import * as Result from "effect/Result"
import * as fc from "fast-check"
import type { PluginFlags } from "../../src/config/flags.ts"
import { maxQpsLimit, parseConfig } from "../../src/config/parseConfig.ts"
import { noFlags } from "../support/config.ts"

// --kms-qps-limit (calls per second, a decimal number above 0) and
// --kms-burst (a whole number >= 1, default the limit rounded up, and only
// with a limit). Off by default.

const keyUri = "projects/my-project/locations/us-east1/keyRings/my-ring/cryptoKeys/my-key"
const parse = (overrides: Partial<PluginFlags>) => parseConfig({ ...noFlags, keyUri: Option.some(keyUri), ...overrides })
const limitOf = (overrides: Partial<PluginFlags>) => Result.getOrThrow(parse(overrides)).kmsRateLimit
const messageOf = (overrides: Partial<PluginFlags>): string =>
  Result.match(parse(overrides), { onSuccess: () => "valid", onFailure: (e) => e.message })

describe("--kms-qps-limit and --kms-burst", () => {
  it("no limit unless --kms-qps-limit is given", () => {
    assert.isUndefined(limitOf({}))
  })

  it("the burst defaults to the limit rounded up, or is taken as given", () => {
    assert.deepStrictEqual(limitOf({ kmsQpsLimit: Option.some("50") }), { qps: 50, burst: 50 })
    assert.deepStrictEqual(limitOf({ kmsQpsLimit: Option.some("12.5") }), { qps: 12.5, burst: 13 })
    assert.deepStrictEqual(limitOf({ kmsQpsLimit: Option.some("0.2") }), { qps: 0.2, burst: 1 })
    assert.deepStrictEqual(limitOf({ kmsQpsLimit: Option.some("50"), kmsBurst: Option.some("5") }), { qps: 50, burst: 5 })
  })

  it("property: any decimal above 0 and up to the maximum is a limit", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: maxQpsLimit * 100 }), (hundredths) => {
        const text = (hundredths / 100).toFixed(2)
        assert.strictEqual(limitOf({ kmsQpsLimit: Option.some(text) })?.qps, Number(text))
      })
    )
  })

  it("refuses 0, negatives, non-numbers and more than the maximum, naming the flag", () => {
    for (const raw of ["0", "0.0", "-5", "abc", "1e3", " 5", "5/s", String(maxQpsLimit + 1)]) {
      assert.strictEqual(
        messageOf({ kmsQpsLimit: Option.some(raw) }),
        `--kms-qps-limit: expected calls per second, a number above 0 and at most ${maxQpsLimit} such as 50 or 12.5, got ${JSON.stringify(raw)}`
      )
    }
  })

  it("refuses a burst below 1 or not a whole number, and a burst without a limit", () => {
    for (const raw of ["0", "1.5", "-1", "many"]) {
      assert.strictEqual(
        messageOf({ kmsQpsLimit: Option.some("10"), kmsBurst: Option.some(raw) }),
        `--kms-burst: expected a whole number of calls, at least 1, got ${JSON.stringify(raw)}`
      )
    }
    assert.strictEqual(messageOf({ kmsBurst: Option.some("10") }), "--kms-burst: needs --kms-qps-limit (a burst of what rate?)")
  })
})
