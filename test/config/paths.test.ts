import { assert, describe, it } from "@effect/vitest"
import * as Option from "effect/Option"
import * as fc from "fast-check"
import { messageOf, parsed as parse } from "../support/config.ts"

// File paths are the operator's business (checked when opened); URL paths
// are normalised so "/healthz" and "healthz" mean the same endpoint.

describe("path flags", () => {
  it("paths to files are passed through untouched", () => {
    const config = parse({ gceConfig: Option.some("/etc/gce.conf"), fakeKeyFile: Option.some("keys.json") })
    assert.strictEqual(config.gceConfig, "/etc/gce.conf")
    assert.strictEqual(config.fakeKeyFile, "keys.json")
  })

  it("URL paths lose their leading slashes, however many, and keep the inner ones", () => {
    const config = parse({ healthzPath: Option.some("//ready"), metricsPath: Option.some("///prom/metrics") })
    assert.strictEqual(config.healthzPath, "ready")
    assert.strictEqual(config.metricsPath, "prom/metrics")
    assert.strictEqual(parse({ healthzPath: Option.some("live/ness") }).healthzPath, "live/ness")
  })

  it("any path of unreserved segments, after any number of slashes, is served as the segments", () => {
    const segment = fc.stringMatching(/^[A-Za-z0-9._~-]{1,12}$/)
    fc.assert(
      fc.property(fc.array(segment, { minLength: 1, maxLength: 4 }), fc.nat({ max: 3 }), (segments, slashes) => {
        const path = segments.join("/")
        assert.strictEqual(parse({ metricsPath: Option.some(`${"/".repeat(slashes)}${path}`) }).metricsPath, path)
      })
    )
  })

  it("an empty path or an empty segment is refused", () => {
    for (const raw of ["/", "", "a//b", "a/"]) {
      const message = messageOf({ healthzPath: Option.some(raw) })
      assert.strictEqual(message, `--healthz-path: expected a URL path such as healthz, got ${JSON.stringify(raw)}`)
    }
  })
})
