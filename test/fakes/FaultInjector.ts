import type * as grpc from "@grpc/grpc-js"
import { seededRandom } from "./seededRandom.ts"

// Which calls misbehave, and how. Rules are drawn once per call, on arrival,
// in arrival order, from a seeded PRNG: the same seed and the same call
// sequence give the same faults.

export type KmsMethod = "Encrypt" | "Decrypt" | "GetCryptoKey" | "TestIamPermissions"

export const kmsMethods: ReadonlyArray<KmsMethod> = ["Encrypt", "Decrypt", "GetCryptoKey", "TestIamPermissions"]

export type Fault =
  /** Answer with this status instead of the real answer. */
  | { readonly kind: "fail"; readonly code: grpc.status; readonly message?: string }
  /** Never answer; the call ends only when the client cancels, its deadline passes, or the server stops. */
  | { readonly kind: "hang" }
  /** Flip one byte of Encrypt's ciphertext / Decrypt's plaintext, after its CRC32C was computed. */
  | { readonly kind: "corrupt" }
  /** Encrypt answers verifiedPlaintextCrc32c: false even though the request carried plaintextCrc32c. */
  | { readonly kind: "unverifiedCrc" }
  /**
   * Encrypt / GetCryptoKey answer with another resource name: `name` if given,
   * else the next version number of the same key (Encrypt) or `<key>-other` (GetCryptoKey).
   */
  | { readonly kind: "wrongName"; readonly name?: string }

export type FaultKind = Fault["kind"]

const appliesTo: Readonly<Record<FaultKind, ReadonlyArray<KmsMethod>>> = {
  fail: kmsMethods,
  hang: kmsMethods,
  corrupt: ["Encrypt", "Decrypt"],
  unverifiedCrc: ["Encrypt"],
  wrongName: ["Encrypt", "GetCryptoKey"]
}

export interface FaultRule {
  readonly fault: Fault
  /** Only calls of this method; default: every method the fault makes sense for. */
  readonly method?: KmsMethod
  /** Fire on the next N matching calls (those the probability lets through), then retire. */
  readonly times?: number
  /** Fire on each matching call with this probability. Neither times nor probability: every call. */
  readonly probability?: number
}

export interface Latency {
  readonly millis: number
  /** Adds a uniform random 0..jitterMillis on top of millis. */
  readonly jitterMillis?: number
}

interface ActiveRule {
  readonly rule: FaultRule
  remaining: number | undefined
}

export class FaultInjector {
  readonly #random: () => number
  #rules: Array<ActiveRule> = []
  readonly #latency = new Map<KmsMethod | "all", Latency>()

  constructor(seed: number) {
    this.#random = seededRandom(seed)
  }

  inject(rule: FaultRule): void {
    if (rule.method !== undefined && !appliesTo[rule.fault.kind].includes(rule.method)) {
      throw new Error(`fault ${rule.fault.kind} does not apply to ${rule.method}`)
    }
    if (rule.times !== undefined && !(Number.isSafeInteger(rule.times) && rule.times > 0))
      throw new Error(`times must be a positive integer, got ${rule.times}`)
    if (rule.probability !== undefined && !(rule.probability >= 0 && rule.probability <= 1)) {
      throw new Error(`probability must be in [0, 1], got ${rule.probability}`)
    }
    this.#rules.push({ rule, remaining: rule.times })
  }

  /** Drops every rule and every latency. */
  clear(): void {
    this.#rules = []
    this.#latency.clear()
  }

  /** Latency for one method, or for all methods without their own ("all"); undefined removes it. */
  setLatency(latency: Latency | undefined, method: KmsMethod | "all" = "all"): void {
    if (latency === undefined) this.#latency.delete(method)
    else this.#latency.set(method, latency)
  }

  delayMillis(method: KmsMethod): number {
    const latency = this.#latency.get(method) ?? this.#latency.get("all")
    if (latency === undefined) return 0
    return latency.millis + (latency.jitterMillis ?? 0) * this.#random()
  }

  /** The faults that fire for one call of `method`; consumes their counts. */
  draw(method: KmsMethod): ReadonlyArray<Fault> {
    const fired: Array<Fault> = []
    for (const active of this.#rules) {
      const { rule } = active
      if (rule.method !== undefined ? rule.method !== method : !appliesTo[rule.fault.kind].includes(method)) continue
      if (active.remaining === 0) continue
      if (rule.probability !== undefined && this.#random() >= rule.probability) continue
      if (active.remaining !== undefined) active.remaining -= 1
      fired.push(rule.fault)
    }
    this.#rules = this.#rules.filter((active) => active.remaining !== 0)
    return fired
  }
}
