import { randomBytes } from "node:crypto"
import { once } from "node:events"
import { assert, describe, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import { cloudKeyUri, cloudOtherKeyUri, FakeCloud } from "../../fakes/FakeCloud.ts"
import { cloudBackend } from "../../support/cloudBackend.ts"
import { awaitJoinedFlights, joinedFlights } from "../../support/joinedFlights.ts"

// Decrypt on the CloudKms backend: which crypto keys are asked, in which
// order, and what a caller joining an identical Decrypt in flight gets.

const noDeadline = { deadline: undefined }
const decryptsAsked = (requests: ReadonlyArray<{ readonly method: string; readonly name: string }>) =>
  requests.filter((r) => r.method === "Decrypt").map((r) => r.name)

/** A migration: data wrapped by key-b (the old key), the backend on key-a with key-b as --decrypt-key-uri, counters at 0. */
const migration = Effect.gen(function* () {
  const fake = yield* FakeCloud
  const seed = randomBytes(32)
  const old = yield* Effect.scoped(
    Effect.flatMap(cloudBackend({ keyUri: Option.some(cloudOtherKeyUri) }), ({ kms }) => kms.encrypt(seed, noDeadline))
  )
  const { kms } = yield* cloudBackend({ decryptKeyUri: [cloudOtherKeyUri] })
  fake.resetCounters()
  return { fake, seed, old, kms }
})

describe("CloudKms Decrypt", () => {
  it.live("without a key_id (v1beta1), --key-uri is asked first, then each --decrypt-key-uri once", () =>
    Effect.gen(function* () {
      const { fake, seed, old, kms } = yield* migration
      assert.deepStrictEqual(Buffer.from(yield* kms.decrypt(old.ciphertext, undefined, noDeadline)), seed)
      assert.deepStrictEqual(decryptsAsked(fake.requests), [cloudKeyUri, cloudOtherKeyUri])
    }).pipe(Effect.scoped, Effect.provide(FakeCloud.layer))
  )

  it.live("with a key_id, only the crypto key it names is asked", () =>
    Effect.gen(function* () {
      const { fake, seed, old, kms } = yield* migration
      const plaintext = yield* kms.decrypt(old.ciphertext, { cryptoKey: cloudOtherKeyUri, version: 1 }, noDeadline)
      assert.deepStrictEqual(Buffer.from(plaintext), seed)
      assert.deepStrictEqual(decryptsAsked(fake.requests), [cloudOtherKeyUri])
    }).pipe(Effect.scoped, Effect.provide(FakeCloud.layer))
  )

  it.live("a key_id of a key that is neither --key-uri nor a --decrypt-key-uri is refused without asking Cloud KMS", () =>
    Effect.gen(function* () {
      const fake = yield* FakeCloud
      const { kms } = yield* cloudBackend()
      fake.resetCounters()
      const error = yield* Effect.flip(kms.decrypt(Buffer.from("ciphertext"), { cryptoKey: cloudOtherKeyUri, version: 1 }, noDeadline))
      assert.strictEqual(error._tag, "UnknownKey")
      assert.strictEqual(error.message, `${cloudOtherKeyUri} is neither --key-uri nor a --decrypt-key-uri`)
      assert.strictEqual(fake.calls.Decrypt, 0)
    }).pipe(Effect.scoped, Effect.provide(FakeCloud.layer))
  )

  it.live("Decrypts for different keys never share a flight, even when key name and ciphertext run together alike", () =>
    Effect.gen(function* () {
      const fake = yield* FakeCloud
      // key-a + "b" + X and key-ab + X are the same bytes once concatenated.
      const longerKey = `${cloudKeyUri}b`
      fake.addKey(longerKey)
      const seed = randomBytes(32)
      const wrapped = yield* Effect.scoped(
        Effect.flatMap(cloudBackend({ keyUri: Option.some(longerKey) }), ({ kms }) => kms.encrypt(seed, noDeadline))
      )
      const { kms } = yield* cloudBackend({ decryptKeyUri: [longerKey] })
      fake.setLatency({ millis: 100 }, "Decrypt")
      fake.resetCounters()
      const [short, long] = yield* Effect.all(
        [
          Effect.exit(
            kms.decrypt(Buffer.concat([Buffer.from("b"), wrapped.ciphertext]), { cryptoKey: cloudKeyUri, version: 1 }, noDeadline)
          ),
          Effect.exit(kms.decrypt(wrapped.ciphertext, { cryptoKey: longerKey, version: 1 }, noDeadline))
        ],
        { concurrency: 2 }
      )
      assert.strictEqual(fake.calls.Decrypt, 2)
      assert.isTrue(Exit.isFailure(short))
      assert.deepStrictEqual(
        Exit.map(long, (p) => Buffer.from(p)),
        Exit.succeed(seed)
      )
    }).pipe(Effect.scoped, Effect.provide(FakeCloud.layer))
  )

  it.live("a caller joining a hanging Decrypt gets KmsUnavailable naming the key before its own deadline", () =>
    Effect.gen(function* () {
      const { fake, old, kms } = yield* migration
      fake.inject({ fault: { kind: "hang" }, method: "Decrypt" })
      const keyId = { cryptoKey: cloudOtherKeyUri, version: 1 }
      const called = Effect.promise(() => once(fake.events, "call"))
      const first = yield* Effect.forkChild(Effect.exit(kms.decrypt(old.ciphertext, keyId, { deadline: Date.now() + 20_000 })))
      yield* called
      const joiner = yield* Effect.flip(kms.decrypt(old.ciphertext, keyId, { deadline: Date.now() + 500 }))
      assert.strictEqual(joiner._tag, "KmsUnavailable")
      assert.strictEqual(joiner.message, `Cloud KMS decrypt on ${cloudOtherKeyUri}: no answer before the caller's deadline`)
      // Without a key_id the message names --key-uri, the first key asked.
      const v1First = yield* Effect.forkChild(Effect.exit(kms.decrypt(old.ciphertext, undefined, { deadline: Date.now() + 20_000 })))
      yield* Effect.promise(() => once(fake.events, "call"))
      const v1Joiner = yield* Effect.flip(kms.decrypt(old.ciphertext, undefined, { deadline: Date.now() + 500 }))
      assert.strictEqual(v1Joiner.message, `Cloud KMS decrypt on ${cloudKeyUri}: no answer before the caller's deadline`)
      yield* Fiber.interrupt(first)
      yield* Fiber.interrupt(v1First)
    }).pipe(Effect.scoped, Effect.provide(FakeCloud.layer))
  )

  it.live("a caller without a deadline joining a Decrypt in flight waits for its answer", () =>
    Effect.gen(function* () {
      const fake = yield* FakeCloud
      const seed = randomBytes(32)
      const { kms } = yield* cloudBackend()
      const wrapped = yield* kms.encrypt(seed, noDeadline)
      // The Cloud KMS Decrypt waits until the second caller has joined its flight, however slow the machine.
      const release = fake.hold("Decrypt")
      fake.resetCounters()
      const keyId = { cryptoKey: cloudKeyUri, version: 1 }
      const called = Effect.promise(() => once(fake.events, "call"))
      const first = yield* Effect.forkChild(kms.decrypt(wrapped.ciphertext, keyId, noDeadline))
      yield* called
      const joinedBefore = yield* joinedFlights
      const joining = yield* Effect.forkChild(kms.decrypt(wrapped.ciphertext, keyId, noDeadline))
      yield* awaitJoinedFlights(joinedBefore + 1)
      release()
      const joined = yield* Fiber.join(joining)
      assert.deepStrictEqual(Buffer.from(joined), seed)
      assert.deepStrictEqual(Buffer.from(yield* Fiber.join(first)), seed)
      assert.strictEqual(fake.calls.Decrypt, 1)
    }).pipe(Effect.scoped, Effect.provide(FakeCloud.layer))
  )
})
