import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type { PluginClient } from "../../../src/client/PluginClient.ts"
import type { PluginFlags } from "../../../src/config/flags.ts"
import { keyVersionName } from "../../../src/config/KeyNames.ts"
import { fakeKeyUri, InProcessPlugin, oldKeyUri } from "../../support/InProcessPlugin.ts"
import { patternBytes } from "./protobuf.ts"

// Real ciphertexts to fuzz around: the plugin's own answers under several key
// versions (one of them disabled afterwards), from both APIs, so that
// fuzzed requests can be valid, nearly valid, or a splice of valid parts.

export const keySuffix = "s1"
export const decryptKeySuffix = "s0"

/** The fake-backend plugin the fuzzers talk to: a key suffix, an old suffix and an old key still accepted. */
export const fuzzPluginFlags: Partial<PluginFlags> = {
  keySuffix: Option.some(keySuffix),
  decryptKeySuffix: [decryptKeySuffix],
  decryptKeyUri: [oldKeyUri]
}

export interface PoolEntry {
  readonly plaintext: Uint8Array
  readonly ciphertext: Uint8Array
  /** The key_id Encrypt returned (v2), or the one it would have returned (v1beta1). */
  readonly keyId: string
  readonly version: number
  /** The key version was disabled after this was made: decrypting it is FAILED_PRECONDITION. */
  readonly disabled: boolean
  readonly api: "v2" | "v1beta1"
}

export interface Pool {
  readonly entries: ReadonlyArray<PoolEntry>
  /** Status.key_id, and the key_id of every Encrypt. */
  readonly currentKeyId: string
  readonly versions: ReadonlyArray<number>
}

export const versionName = (version: number): string => keyVersionName({ cryptoKey: fakeKeyUri, version })

/** Every key_id under which a ciphertext of this version must decrypt: no suffix, the current and the old suffix. */
export const acceptableKeyIds = (version: number): ReadonlyArray<string> => [
  versionName(version),
  `${versionName(version)}:${keySuffix}`,
  `${versionName(version)}:${decryptKeySuffix}`
]

export const findEntry = (pool: Pool, ciphertext: Uint8Array): PoolEntry | undefined =>
  pool.entries.find((entry) => Buffer.from(entry.ciphertext).equals(ciphertext))

/** Rotates the fake key to version 3, encrypting on the way, then disables version 2. */
export const buildPool = Effect.gen(function* () {
  const { client, control } = yield* InProcessPlugin
  const made: Array<Omit<PoolEntry, "disabled">> = []
  const v2 = (version: number, plaintext: Uint8Array) =>
    Effect.map(client.v2Encrypt({ plaintext }), (answer) => {
      made.push({ plaintext, ciphertext: answer.ciphertext, keyId: answer.keyId, version, api: "v2" })
    })
  const v1 = (version: number, plaintext: Uint8Array) =>
    Effect.map(client.v1Encrypt(plaintext), (answer) => {
      made.push({ plaintext, ciphertext: answer.cipher, keyId: `${versionName(version)}:${keySuffix}`, version, api: "v1beta1" })
    })
  yield* v2(1, Uint8Array.of(42))
  yield* v2(1, patternBytes(32, 1))
  yield* v2(1, patternBytes(65536, 2))
  yield* v1(1, patternBytes(32, 3))
  yield* control.rotate()
  yield* v2(2, patternBytes(32, 4))
  yield* v1(2, patternBytes(17, 5))
  yield* control.rotate()
  yield* v2(3, patternBytes(32, 6))
  yield* v2(3, patternBytes(5, 7))
  yield* v1(3, patternBytes(32, 8))
  yield* control.setVersionState(2, "DISABLED")
  const status = yield* client.v2Status
  const pool: Pool = {
    entries: made.map((entry) => ({ ...entry, disabled: entry.version === 2 })),
    currentKeyId: status.keyId,
    versions: [1, 2, 3]
  }
  if (status.keyId !== `${versionName(3)}:${keySuffix}`) throw new Error(`unexpected Status key_id ${status.keyId}`)
  for (const entry of pool.entries) {
    if (entry.api === "v2" && entry.keyId !== `${versionName(entry.version)}:${keySuffix}`) {
      throw new Error(`unexpected Encrypt key_id ${entry.keyId}`)
    }
  }
  return pool
})

/**
 * A pool from a plugin we cannot rotate (the spawned entrypoint started with
 * fuzzPluginArgs, or the cloud backend): version 1 only, plaintexts made from `seed`.
 */
export const buildVersion1Pool = (client: PluginClient, seed: number) =>
  Effect.gen(function* () {
    const entries: Array<PoolEntry> = []
    for (const plaintext of [Uint8Array.of(seed), patternBytes(32, seed + 1), patternBytes(300, seed + 2)]) {
      const answer = yield* client.v2Encrypt({ plaintext })
      entries.push({ plaintext, ciphertext: answer.ciphertext, keyId: answer.keyId, version: 1, disabled: false, api: "v2" })
    }
    // v1beta1 has no key_id: the one v2 gives the same data.
    const plain = patternBytes(32, seed + 3)
    const v1 = yield* client.v1Encrypt(plain)
    entries.push({ plaintext: plain, ciphertext: v1.cipher, keyId: entries[0]?.keyId ?? "", version: 1, disabled: false, api: "v1beta1" })
    const status = yield* client.v2Status
    return { entries, currentKeyId: status.keyId, versions: [1] } satisfies Pool
  })

/** Command-line flags giving the spawned plugin the same keys and suffixes as fuzzPluginFlags. */
export const fuzzPluginArgs: ReadonlyArray<string> = [
  "--key-uri",
  fakeKeyUri,
  "--key-suffix",
  keySuffix,
  "--decrypt-key-suffix",
  decryptKeySuffix,
  "--decrypt-key-uri",
  oldKeyUri
]
