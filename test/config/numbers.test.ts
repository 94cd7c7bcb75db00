import { assert, describe, it } from "@effect/vitest"
import * as Option from "effect/Option"
import * as Result from "effect/Result"
import * as fc from "fast-check"
import type { PluginFlags } from "../../src/config/flags.ts"
import { messageOf, parse } from "../support/config.ts"

// Ports and counts are plain decimal digits, nothing else: JavaScript's
// Number() would take " 80", "8e1", "0x50" or "+80", and an operator who
// typed those should hear about it rather than get a surprise port.

const notPlainDigits = ["80 ", " 80", "8e1", "0x50", "+80", "80.0", "1_000", "٨٠"]

describe("ports", () => {
  it("the bounds 0 and 65535 are ports; 65536 is not", () => {
    assert.strictEqual(Result.getOrThrow(parse({ healthzPort: Option.some("0") })).healthzPort, 0)
    assert.strictEqual(Result.getOrThrow(parse({ healthzPort: Option.some("65535") })).healthzPort, 65535)
    assert.strictEqual(messageOf({ healthzPort: Option.some("65536") }), '--healthz-port: expected a port number 0-65535, got "65536"')
  })

  for (const raw of notPlainDigits) {
    it(`refuses ${JSON.stringify(raw)}: digits only`, () => {
      assert.strictEqual(
        messageOf({ healthzPort: Option.some(raw) }),
        `--healthz-port: expected a port number 0-65535, got ${JSON.stringify(raw)}`
      )
    })
  }

  it("--fake-kms-port defaults to 8085 and is taken as given", () => {
    const endpointOf = (flags: Partial<PluginFlags>) => Result.getOrThrow(parse({ integrationTest: true, ...flags })).cloudEndpoint
    assert.deepStrictEqual(endpointOf({}), { _tag: "Custom", host: "127.0.0.1", port: 8085, insecure: true })
    assert.deepStrictEqual(endpointOf({ fakeKmsPort: Option.some("0") }), { _tag: "Custom", host: "127.0.0.1", port: 0, insecure: true })
  })

  it("--metrics-port: absent serves metrics on the health port; another port is kept; 0 always means its own free port", () => {
    assert.isUndefined(Result.getOrThrow(parse({})).metricsPort)
    assert.strictEqual(Result.getOrThrow(parse({ metricsPort: Option.some("8082") })).metricsPort, 8082)
    // Same fixed port as the health server: one listener serves both.
    assert.isUndefined(Result.getOrThrow(parse({ metricsPort: Option.some("9000"), healthzPort: Option.some("9000") })).metricsPort)
    // Both 0: two different free ports, so metrics keeps its own listener.
    assert.strictEqual(Result.getOrThrow(parse({ metricsPort: Option.some("0"), healthzPort: Option.some("0") })).metricsPort, 0)
    assert.strictEqual(Result.getOrThrow(parse({ metricsPort: Option.some("0") })).metricsPort, 0)
  })
})

describe("--kms-max-attempts", () => {
  it("defaults to 5", () => {
    assert.strictEqual(Result.getOrThrow(parse({})).retry.maxAttempts, 5)
  })

  it("takes any whole number from 1 to 100, inclusive", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 100 }), (n) => {
        assert.strictEqual(Result.getOrThrow(parse({ kmsMaxAttempts: Option.some(String(n)) })).retry.maxAttempts, n)
      })
    )
    assert.strictEqual(Result.getOrThrow(parse({ kmsMaxAttempts: Option.some("1") })).retry.maxAttempts, 1)
    assert.strictEqual(Result.getOrThrow(parse({ kmsMaxAttempts: Option.some("100") })).retry.maxAttempts, 100)
  })

  for (const raw of [...notPlainDigits.map((s) => s.replace("80", "8")), "5 ", " 5", "1e1", "00001", "-1"]) {
    it(`refuses ${JSON.stringify(raw)}`, () => {
      assert.strictEqual(
        messageOf({ kmsMaxAttempts: Option.some(raw) }),
        `--kms-max-attempts: expected a whole number 1-100, got ${JSON.stringify(raw)}`
      )
    })
  }
})
