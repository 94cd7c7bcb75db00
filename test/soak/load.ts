import { randomUUID } from "node:crypto"
import { seededRandom } from "../fakes/seededRandom.ts"
import type { Plaintexts } from "./plaintexts.ts"
import type { RpcName, SoakClient } from "./soakClient.ts"
import type { PhaseRecorder } from "./stats.ts"

// The load: `concurrency` workers, each a closed loop of operations drawn
// from a seeded mix, until the phase's end. Every round trip compares the
// plaintext that comes back with the one sent; ciphertexts of earlier round
// trips are decrypted again later (as after an apiserver restart), across
// phases and key rotations.

export interface Wrapped {
  readonly api: "v2" | "v1beta1"
  readonly plaintext: Buffer
  readonly ciphertext: Uint8Array
  readonly keyId: string
  readonly annotations: Readonly<Record<string, Uint8Array>>
}

/** A bounded ring of earlier ciphertexts, per API. */
export class CiphertextPool {
  readonly #items: Record<Wrapped["api"], Array<Wrapped>> = { v2: [], v1beta1: [] }
  readonly #next: Record<Wrapped["api"], number> = { v2: 0, v1beta1: 0 }

  readonly capacity: number

  constructor(capacity: number) {
    this.capacity = capacity
  }

  add(item: Wrapped): void {
    const items = this.#items[item.api]
    if (items.length < this.capacity) items.push(item)
    else items[this.#next[item.api]++ % this.capacity] = item
  }

  pick(api: Wrapped["api"], random: () => number): Wrapped | undefined {
    const items = this.#items[api]
    return items[Math.floor(random() * items.length)]
  }
}

export interface LoadTarget {
  readonly client: SoakClient
  readonly plaintexts: Plaintexts
  readonly pool: CiphertextPool
  /** The crypto key the plugin wraps with: key_ids must name one of its versions. */
  readonly keyUri: string
}

type Op = "v2RoundTrip" | "v2Old" | "v1RoundTrip" | "v1Old" | "status" | "version"

/** Relative weights of the operations; Status polling and old decrypts next to round trips. */
const mix: ReadonlyArray<readonly [Op, number]> = [
  ["v2RoundTrip", 35],
  ["v2Old", 15],
  ["v1RoundTrip", 15],
  ["v1Old", 5],
  ["status", 25],
  ["version", 5]
]
const mixTotal = mix.reduce((sum, [, weight]) => sum + weight, 0)

const pickOp = (random: () => number): Op => {
  let point = random() * mixTotal
  for (const [op, weight] of mix) {
    point -= weight
    if (point < 0) return op
  }
  return "status"
}

/** Mostly the apiserver's 32-byte seeds, some bigger. */
const pickSize = (random: () => number): number => {
  const point = random()
  return point < 0.8 ? 32 : point < 0.92 ? 256 : 4096
}

const bytesOf = (value: unknown): Uint8Array | undefined => (value instanceof Uint8Array ? value : undefined)

const describeMismatch = (expected: Uint8Array, got: Uint8Array): string => {
  let at = 0
  while (at < expected.length && at < got.length && expected[at] === got[at]) at++
  return `expected ${expected.length} bytes, got ${got.length}; first difference at byte ${at}`
}

const annotationsOf = (value: unknown): Record<string, Uint8Array> | undefined => {
  if (typeof value !== "object" || value === null) return undefined
  const out: Record<string, Uint8Array> = {}
  for (const [key, entry] of Object.entries(value)) {
    if (!(entry instanceof Uint8Array)) return undefined
    out[key] = entry
  }
  return out
}

const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")

export const makeOps = (target: LoadTarget, recorder: PhaseRecorder, random: () => number) => {
  const { client, plaintexts, pool } = target
  const keyIdPattern = new RegExp(`^${escapeRegExp(target.keyUri)}/cryptoKeyVersions/[1-9][0-9]*$`)

  const call = async (rpc: RpcName, request: object) => {
    const answer = await client.call(rpc, request)
    return recorder.record(answer) ? answer.response : undefined
  }

  const checkPlaintext = (rpc: RpcName, got: Uint8Array | undefined, expected: Buffer): boolean => {
    if (got === undefined) {
      recorder.badAnswer(rpc, "no plaintext bytes in the answer")
      return false
    }
    if (!expected.equals(got)) {
      recorder.wrongPlaintext(rpc, describeMismatch(expected, got))
      return false
    }
    return true
  }

  const v2Decrypt = async (item: Wrapped) => {
    const response = await call("v2.Decrypt", {
      ciphertext: item.ciphertext,
      keyId: item.keyId,
      uid: randomUUID(),
      annotations: item.annotations
    })
    return response === undefined ? false : checkPlaintext("v2.Decrypt", bytesOf(response["plaintext"]), item.plaintext)
  }

  const v1Decrypt = async (item: Wrapped) => {
    const response = await call("v1beta1.Decrypt", { version: "v1beta1", cipher: item.ciphertext })
    return response === undefined ? false : checkPlaintext("v1beta1.Decrypt", bytesOf(response["plain"]), item.plaintext)
  }

  const ops: Record<Op, () => Promise<void>> = {
    v2RoundTrip: async () => {
      const plaintext = plaintexts.next(pickSize(random))
      const response = await call("v2.Encrypt", { plaintext, uid: randomUUID() })
      if (response === undefined) return
      const ciphertext = bytesOf(response["ciphertext"])
      const keyId = response["keyId"]
      const annotations = annotationsOf(response["annotations"])
      if (ciphertext === undefined || ciphertext.length === 0 || (plaintext.length === 32 && ciphertext.length > 1024)) {
        return recorder.badAnswer("v2.Encrypt", `ciphertext missing, empty or over 1024 bytes (${ciphertext?.length})`)
      }
      if (typeof keyId !== "string" || !keyIdPattern.test(keyId)) return recorder.badAnswer("v2.Encrypt", `key_id ${JSON.stringify(keyId)}`)
      if (annotations === undefined) return recorder.badAnswer("v2.Encrypt", "malformed annotations")
      const item: Wrapped = { api: "v2", plaintext, ciphertext, keyId, annotations }
      if (await v2Decrypt(item)) pool.add(item)
    },
    v2Old: async () => {
      const item = pool.pick("v2", random)
      if (item === undefined) return ops.v2RoundTrip()
      await v2Decrypt(item)
    },
    v1RoundTrip: async () => {
      const plaintext = plaintexts.next(pickSize(random))
      const response = await call("v1beta1.Encrypt", { version: "v1beta1", plain: plaintext })
      if (response === undefined) return
      const ciphertext = bytesOf(response["cipher"])
      if (ciphertext === undefined || ciphertext.length === 0) return recorder.badAnswer("v1beta1.Encrypt", "cipher missing or empty")
      const item: Wrapped = { api: "v1beta1", plaintext, ciphertext, keyId: "", annotations: {} }
      if (await v1Decrypt(item)) pool.add(item)
    },
    v1Old: async () => {
      const item = pool.pick("v1beta1", random)
      if (item === undefined) return ops.v1RoundTrip()
      await v1Decrypt(item)
    },
    status: async () => {
      const response = await call("v2.Status", {})
      if (response === undefined) return
      if (response["version"] !== "v2") return recorder.badAnswer("v2.Status", `version ${JSON.stringify(response["version"])}`)
      const keyId = response["keyId"]
      if (response["healthz"] !== "ok") {
        recorder.statusNotOk += 1
        if (keyId !== "" && (typeof keyId !== "string" || !keyIdPattern.test(keyId)))
          recorder.badAnswer("v2.Status", `key_id ${JSON.stringify(keyId)}`)
        return
      }
      if (typeof keyId !== "string" || !keyIdPattern.test(keyId))
        recorder.badAnswer("v2.Status", `healthz ok with key_id ${JSON.stringify(keyId)}`)
    },
    version: async () => {
      const response = await call("v1beta1.Version", { version: "v1beta1" })
      if (response !== undefined && response["version"] !== "v1beta1") {
        recorder.badAnswer("v1beta1.Version", `version ${JSON.stringify(response["version"])}`)
      }
    }
  }
  return { next: () => ops[pickOp(random)]() }
}

/**
 * Runs `concurrency` closed-loop workers until `endAt` (performance.now() time) and until the
 * recorder has seen `minCalls` calls, however slow the machine; resolves when every call has answered.
 */
export const runLoad = async (
  target: LoadTarget,
  recorder: PhaseRecorder,
  options: {
    readonly concurrency: number
    readonly seed: number
    readonly endAt: number
    readonly minCalls?: number
    readonly stop?: () => boolean
  }
): Promise<void> => {
  const minCalls = options.minCalls ?? 0
  const workers = Array.from({ length: options.concurrency }, async (_, index) => {
    const { next } = makeOps(target, recorder, seededRandom(options.seed * 7919 + index))
    while ((performance.now() < options.endAt || recorder.calls < minCalls) && options.stop?.() !== true) await next()
  })
  await Promise.all(workers)
}
