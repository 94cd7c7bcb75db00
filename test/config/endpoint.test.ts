import { assert, describe, it } from "@effect/vitest"
import * as Option from "effect/Option"
import * as Result from "effect/Result"
import * as fc from "fast-check"
import { messageOf as messageOfFlags, parse } from "../support/config.ts"

// --kms-endpoint is host:port, the port a plain number 1-65535. Anything
// else is refused at start, not discovered as a connection error later.

const endpointOf = (raw: string, insecure = false) =>
  Result.getOrThrow(parse({ kmsEndpoint: Option.some(raw), kmsInsecure: insecure })).cloudEndpoint
const messageOf = (raw: string): string => messageOfFlags({ kmsEndpoint: Option.some(raw) })

describe("--kms-endpoint", () => {
  it("ports 1 and 65535 are the bounds", () => {
    assert.deepStrictEqual(endpointOf("kms.example.com:1"), { _tag: "Custom", host: "kms.example.com", port: 1, insecure: false })
    assert.deepStrictEqual(endpointOf("kms.example.com:65535", true), {
      _tag: "Custom",
      host: "kms.example.com",
      port: 65535,
      insecure: true
    })
  })

  for (const raw of [
    "host:65536",
    "host:99999",
    "host:0",
    "8080",
    "443",
    "host: 443",
    "host:443 ",
    "host:443x",
    "host:+443",
    "host:4e2",
    "host:"
  ]) {
    it(`refuses ${JSON.stringify(raw)}`, () => {
      assert.strictEqual(messageOf(raw), `--kms-endpoint: expected host:port, got ${JSON.stringify(raw)}`)
    })
  }

  it("the port is what follows the last colon; an IPv6 host is in brackets and kept without them", () => {
    assert.deepStrictEqual(endpointOf("[2001:db8::1]:8443"), { _tag: "Custom", host: "2001:db8::1", port: 8443, insecure: false })
    assert.strictEqual(messageOf("2001:db8::1:8443"), '--kms-endpoint: expected host:port, got "2001:db8::1:8443"')
  })

  it("any DNS-style host and any port 1-65535 is taken as written", () => {
    const label = fc.stringMatching(/^[a-z0-9](?:[a-z0-9-]{0,10}[a-z0-9])?$/)
    const host = fc.array(label, { minLength: 1, maxLength: 4 }).map((labels) => labels.join("."))
    fc.assert(
      fc.property(host, fc.integer({ min: 1, max: 65535 }), fc.boolean(), (h, port, insecure) => {
        assert.deepStrictEqual(endpointOf(`${h}:${port}`, insecure), { _tag: "Custom", host: h, port, insecure })
      })
    )
  })

  it("--integration-test wins over --kms-endpoint", () => {
    const config = Result.getOrThrow(parse({ integrationTest: true, kmsEndpoint: Option.some("kms.example.com:443") }))
    assert.deepStrictEqual(config.cloudEndpoint, { _tag: "Custom", host: "127.0.0.1", port: 8085, insecure: true })
  })
})
