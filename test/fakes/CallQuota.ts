import type { KmsMethod } from "./FaultInjector.ts"

// A Cloud KMS quota as the fake enforces it: at most `callsPerSecond` calls
// of the counted methods in any one-second window (sliding, by arrival);
// a call beyond it is answered RESOURCE_EXHAUSTED, as Cloud KMS answers one
// beyond the project's quota. Refused calls do not count against the window.

export interface Quota {
  readonly callsPerSecond: number
  /** Methods the quota counts (default Encrypt and Decrypt, Cloud KMS's cryptographic requests). */
  readonly methods?: ReadonlyArray<KmsMethod>
}

export const cryptographicMethods: ReadonlyArray<KmsMethod> = ["Encrypt", "Decrypt"]

export class CallQuota {
  readonly #quota: Quota
  /** Arrival times (ms) of the calls let through in the last second, oldest first. */
  readonly #window: Array<number> = []

  constructor(quota: Quota) {
    if (!(quota.callsPerSecond >= 1 && Number.isSafeInteger(quota.callsPerSecond))) {
      throw new Error(`callsPerSecond must be a whole number >= 1, got ${quota.callsPerSecond}`)
    }
    this.#quota = quota
  }

  /** Counts a call arriving at `now` (ms); false when it is beyond the quota. */
  admit(method: KmsMethod, now: number): boolean {
    if (!(this.#quota.methods ?? cryptographicMethods).includes(method)) return true
    while (this.#window.length > 0 && (this.#window[0] ?? now) <= now - 1000) this.#window.shift()
    if (this.#window.length >= this.#quota.callsPerSecond) return false
    this.#window.push(now)
    return true
  }
}
