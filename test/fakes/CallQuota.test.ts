import * as fc from "fast-check"
import { describe, expect, it } from "vitest"
import { CallQuota } from "./CallQuota.ts"

// The fake's quota: a sliding one-second window over arrivals.

describe("fake Cloud KMS quota", () => {
  it("lets N calls through in any second, refuses the rest, and frees a slot a second after each", () => {
    const quota = new CallQuota({ callsPerSecond: 2 })
    expect([0, 10, 20].map((t) => quota.admit("Encrypt", t))).toEqual([true, true, false])
    expect(quota.admit("Decrypt", 999)).toBe(false)
    expect(quota.admit("Decrypt", 1000)).toBe(true)
    expect(quota.admit("Encrypt", 1009)).toBe(false)
    expect(quota.admit("Encrypt", 1010)).toBe(true)
    // Reads are another quota.
    expect(quota.admit("GetCryptoKey", 1011)).toBe(true)
    expect(quota.admit("TestIamPermissions", 1011)).toBe(true)
  })

  it("property: no one-second window ever holds more than N admitted calls", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 10 }), fc.array(fc.integer({ min: 0, max: 50 }), { maxLength: 200 }), (n, gaps) => {
        const quota = new CallQuota({ callsPerSecond: n })
        let now = 0
        const admitted: Array<number> = []
        for (const gap of gaps) {
          now += gap
          if (quota.admit("Encrypt", now)) admitted.push(now)
        }
        return admitted.every((t, i) => admitted.slice(i).filter((u) => u < t + 1000).length <= n)
      })
    )
  })
})
