import { randomBytes } from "node:crypto"
import { once } from "node:events"
import { assert, describe, it } from "@effect/vitest"
import { status } from "@grpc/grpc-js"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Schedule from "effect/Schedule"
import * as fc from "fast-check"
import { makePluginClient } from "../../../src/client/PluginClient.ts"
import type { PluginFlags } from "../../../src/config/flags.ts"
import { targetOf } from "../../../src/grpc/SocketBinding.ts"
import { cloudKeyUri, cloudOtherKeyUri, FakeCloud } from "../../fakes/FakeCloud.ts"
import { InProcessPlugin } from "../../support/InProcessPlugin.ts"
import { awaitJoinedFlights, joinedFlights } from "../../support/joinedFlights.ts"

// The CloudKms backend through the plugin's socket, with the real
// @google-cloud/kms client against the fake Cloud KMS server.

/** The in-process plugin on the cloud backend, against the FakeCloud in context. */
const cloudPlugin = (flags: Partial<PluginFlags> = {}, clientTimeoutMillis = 10_000) =>
  InProcessPlugin.layer({ backend: "cloud", flags, clientTimeoutMillis })

const withCloud = <A, E>(
  effect: Effect.Effect<A, E, InProcessPlugin | FakeCloud>,
  flags: Partial<PluginFlags> = {},
  clientTimeoutMillis?: number
) => Effect.provide(effect, cloudPlugin(flags, clientTimeoutMillis).pipe(Layer.provideMerge(FakeCloud.layer)))

const withCloudFlags =
  (flags: Partial<PluginFlags>) =>
  <A, E>(effect: Effect.Effect<A, E, InProcessPlugin | FakeCloud>) =>
    withCloud(effect, flags)

const version = (n: number, key = cloudKeyUri) => `${key}/cryptoKeyVersions/${n}`

/** Waits (bounded) until Status reports `keyId`: the refresh runs on its own schedule. */
const statusReaches = (keyId: string) =>
  Effect.gen(function* () {
    const { client } = yield* InProcessPlugin
    return yield* client.v2Status.pipe(
      Effect.flatMap((s) =>
        s.keyId === keyId && s.healthz === "ok" ? Effect.succeed(s) : Effect.fail(`Status says ${s.keyId} ${s.healthz}`)
      ),
      Effect.retry(Schedule.spaced("20 millis").pipe(Schedule.upTo({ times: 500 })))
    )
  })

describe("CloudKms backend against a fake Cloud KMS", () => {
  it.live("round trips on v2 and v1beta1; key_id is the crypto key version; Status costs no Cloud KMS call", () =>
    withCloud(
      Effect.gen(function* () {
        const { client } = yield* InProcessPlugin
        const fake = yield* FakeCloud
        const seed = randomBytes(32)
        const status1 = yield* client.v2Status
        assert.deepStrictEqual(status1, { version: "v2", healthz: "ok", keyId: version(1) })
        const encrypted = yield* client.v2Encrypt({ plaintext: seed })
        assert.strictEqual(encrypted.keyId, version(1))
        assert.isAtMost(encrypted.ciphertext.length, 1024)
        assert.deepStrictEqual(
          Buffer.from((yield* client.v2Decrypt({ ciphertext: encrypted.ciphertext, keyId: encrypted.keyId })).plaintext),
          seed
        )
        const v1 = yield* client.v1Encrypt(seed)
        assert.deepStrictEqual(Buffer.from((yield* client.v1Decrypt(v1.cipher)).plain), seed)
        fake.resetCounters()
        for (let i = 0; i < 20; i++) yield* client.v2Status
        assert.deepStrictEqual({ ...fake.calls }, { Encrypt: 0, Decrypt: 0, GetCryptoKey: 0, TestIamPermissions: 0 })
      }),
      { keyRefreshInterval: Option.some("1m") }
    )
  )

  it.live("rotation: Status key_id moves within one refresh interval, Encrypt follows it, old data still decrypts", () =>
    withCloud(
      Effect.gen(function* () {
        const { client } = yield* InProcessPlugin
        const fake = yield* FakeCloud
        const old = yield* client.v2Encrypt({ plaintext: Buffer.from("before rotation") })
        const oldV1 = yield* client.v1Encrypt(Buffer.from("v1 before rotation"))
        assert.strictEqual(fake.rotate(cloudKeyUri), 2)
        yield* statusReaches(version(2))
        const fresh = yield* client.v2Encrypt({ plaintext: Buffer.from("after rotation") })
        assert.strictEqual(fresh.keyId, version(2))
        assert.strictEqual(
          Buffer.from((yield* client.v2Decrypt({ ciphertext: old.ciphertext, keyId: old.keyId })).plaintext).toString(),
          "before rotation"
        )
        assert.strictEqual(Buffer.from((yield* client.v1Decrypt(oldV1.cipher)).plain).toString(), "v1 before rotation")
      })
    )
  )

  it.live("a disabled current version: Encrypt recovers on the new primary at once, and Status follows", () =>
    withCloud(
      Effect.gen(function* () {
        const { client } = yield* InProcessPlugin
        const fake = yield* FakeCloud
        assert.strictEqual((yield* client.v2Status).keyId, version(1))
        fake.rotate(cloudKeyUri)
        fake.setVersionState(cloudKeyUri, 1, "DISABLED")
        const encrypted = yield* client.v2Encrypt({ plaintext: Buffer.from("x") })
        assert.strictEqual(encrypted.keyId, version(2))
        assert.strictEqual((yield* client.v2Status).keyId, version(2))
      }),
      { keyRefreshInterval: Option.some("1m") }
    )
  )

  it.live("a disabled primary with no other version: FAILED_PRECONDITION, and healthz says why", () =>
    withCloud(
      Effect.gen(function* () {
        const { client } = yield* InProcessPlugin
        const fake = yield* FakeCloud
        fake.setVersionState(cloudKeyUri, 1, "DISABLED")
        const failure = yield* Effect.flip(client.v2Encrypt({ plaintext: Buffer.from("x") }))
        assert.strictEqual(failure.code, status.FAILED_PRECONDITION)
        assert.include(failure.details, "cryptoKeyVersions/1")
        const unhealthy = yield* client.v2Status
        assert.include(unhealthy.healthz, "DISABLED")
      }),
      { keyRefreshInterval: Option.some("1m") }
    )
  )

  it.live("--decrypt-key-uri: data of the old key decrypts on both APIs; an unconfigured key is refused by name", () =>
    Effect.gen(function* () {
      const fake = yield* FakeCloud
      const seed = randomBytes(32)
      const before = yield* Effect.provide(
        Effect.gen(function* () {
          const { client } = yield* InProcessPlugin
          return { v2: yield* client.v2Encrypt({ plaintext: seed }), v1: (yield* client.v1Encrypt(seed)).cipher }
        }),
        cloudPlugin({ keyUri: Option.some(cloudOtherKeyUri) })
      )
      assert.strictEqual(before.v2.keyId, version(1, cloudOtherKeyUri))
      yield* Effect.provide(
        Effect.gen(function* () {
          const { client } = yield* InProcessPlugin
          assert.deepStrictEqual(
            Buffer.from((yield* client.v2Decrypt({ ciphertext: before.v2.ciphertext, keyId: before.v2.keyId })).plaintext),
            seed
          )
          assert.deepStrictEqual(Buffer.from((yield* client.v1Decrypt(before.v1)).plain), seed)
        }),
        cloudPlugin({ decryptKeyUri: [cloudOtherKeyUri] })
      )
      yield* Effect.provide(
        Effect.gen(function* () {
          const { client } = yield* InProcessPlugin
          const v2 = yield* Effect.flip(client.v2Decrypt({ ciphertext: before.v2.ciphertext, keyId: before.v2.keyId }))
          assert.strictEqual(v2.code, status.INVALID_ARGUMENT)
          assert.include(v2.details, cloudOtherKeyUri)
          const v1 = yield* Effect.flip(client.v1Decrypt(before.v1))
          assert.strictEqual(v1.code, status.INVALID_ARGUMENT)
        }),
        cloudPlugin()
      )
      assert.isAbove(fake.calls.Decrypt, 0)
    }).pipe(Effect.provide(FakeCloud.layer))
  )

  it.live("transient faults (UNAVAILABLE ×2) are retried and the call succeeds", () =>
    withCloud(
      Effect.gen(function* () {
        const { client } = yield* InProcessPlugin
        const fake = yield* FakeCloud
        fake.resetCounters()
        fake.inject({ fault: { kind: "fail", code: status.UNAVAILABLE }, method: "Encrypt", times: 2 })
        const encrypted = yield* client.v2Encrypt({ plaintext: Buffer.from("x") })
        assert.strictEqual(fake.calls.Encrypt, 3)
        fake.inject({ fault: { kind: "fail", code: status.UNAVAILABLE }, method: "Decrypt", times: 2 })
        yield* client.v2Decrypt({ ciphertext: encrypted.ciphertext, keyId: encrypted.keyId })
        assert.strictEqual(fake.calls.Decrypt, 3)
      }),
      { keyRefreshInterval: Option.some("1m") }
    )
  )

  it.live("non-transient errors are not retried: PERMISSION_DENIED names the permission", () =>
    withCloud(
      Effect.gen(function* () {
        const { client } = yield* InProcessPlugin
        const fake = yield* FakeCloud
        const encrypted = yield* client.v2Encrypt({ plaintext: Buffer.from("x") })
        fake.denyPermissions(cloudKeyUri, ["cloudkms.cryptoKeyVersions.useToDecrypt"])
        fake.resetCounters()
        const failure = yield* Effect.flip(client.v2Decrypt({ ciphertext: encrypted.ciphertext, keyId: encrypted.keyId }))
        assert.strictEqual(failure.code, status.PERMISSION_DENIED)
        assert.include(failure.details, "cloudkms.cryptoKeyVersions.useToDecrypt")
        assert.include(failure.details, cloudKeyUri)
        assert.strictEqual(fake.calls.Decrypt, 1)
      }),
      { keyRefreshInterval: Option.some("1m") }
    )
  )

  it.live("persistent UNAVAILABLE: the plugin answers UNAVAILABLE before the caller's 3 s deadline (the apiserver's)", () =>
    withCloud(
      Effect.gen(function* () {
        const { client } = yield* InProcessPlugin
        const fake = yield* FakeCloud
        fake.inject({ fault: { kind: "fail", code: status.UNAVAILABLE }, method: "Encrypt" })
        const failure = yield* Effect.flip(client.v2Encrypt({ plaintext: Buffer.from("x") }))
        assert.strictEqual(failure.code, status.UNAVAILABLE)
      }),
      { keyRefreshInterval: Option.some("1m"), kmsMaxAttempts: Option.some("100") },
      3_000
    )
  )

  it.live("a hanging Cloud KMS: attempts time out and the answer is UNAVAILABLE before the caller's deadline", () =>
    withCloud(
      Effect.gen(function* () {
        const { client } = yield* InProcessPlugin
        const fake = yield* FakeCloud
        fake.inject({ fault: { kind: "hang" }, method: "Encrypt" })
        const failure = yield* Effect.flip(client.v2Encrypt({ plaintext: Buffer.from("x") }))
        assert.strictEqual(failure.code, status.UNAVAILABLE)
        assert.include(failure.details, "no answer")
      }),
      { keyRefreshInterval: Option.some("1m"), kmsAttemptTimeout: Option.some("200ms") },
      3_000
    )
  )

  it.live("a cancelled call cancels the Cloud KMS call", () =>
    withCloud(
      Effect.gen(function* () {
        const { client } = yield* InProcessPlugin
        const fake = yield* FakeCloud
        fake.inject({ fault: { kind: "hang" }, method: "Decrypt" })
        const cancelled = Effect.promise(() => once(fake.events, "cancelled"))
        const encrypted = yield* client.v2Encrypt({ plaintext: Buffer.from("x") })
        const [, [seen]] = yield* Effect.all(
          [Effect.exit(client.v2Decrypt({ ciphertext: encrypted.ciphertext, keyId: encrypted.keyId })), cancelled],
          { concurrency: 2 }
        )
        assert.strictEqual(seen?.method, "Decrypt")
      }),
      { keyRefreshInterval: Option.some("1m"), kmsAttemptTimeout: Option.some("10s") },
      300
    )
  )

  it.live("corrupted responses never yield a wrong plaintext (random corruption, retried)", () =>
    withCloud(
      Effect.gen(function* () {
        const { client } = yield* InProcessPlugin
        const fake = yield* FakeCloud
        fake.inject({ fault: { kind: "corrupt" }, probability: 0.5 })
        yield* Effect.promise(() =>
          fc.assert(
            fc.asyncProperty(fc.uint8Array({ minLength: 1, maxLength: 512 }), async (plaintext) => {
              const exit = await Effect.runPromiseExit(
                Effect.flatMap(client.v2Encrypt({ plaintext }), (e) => client.v2Decrypt({ ciphertext: e.ciphertext, keyId: e.keyId }))
              )
              if (Exit.isSuccess(exit)) assert.deepStrictEqual(Buffer.from(exit.value.plaintext), Buffer.from(plaintext))
              else assert.include([status.DATA_LOSS, status.INVALID_ARGUMENT], exit.cause.reasons.length > 0 ? codeOf(exit) : -1)
            }),
            { numRuns: 60 }
          )
        )
      }),
      { keyRefreshInterval: Option.some("1m"), kmsMaxAttempts: Option.some("10") }
    )
  )

  it.live("always-corrupted responses end in DATA_LOSS; responses naming another key version too", () =>
    withCloud(
      Effect.gen(function* () {
        const { client } = yield* InProcessPlugin
        const fake = yield* FakeCloud
        const encrypted = yield* client.v2Encrypt({ plaintext: Buffer.from("x") })
        fake.inject({ fault: { kind: "corrupt" }, method: "Decrypt" })
        const decrypt = yield* Effect.flip(client.v2Decrypt({ ciphertext: encrypted.ciphertext, keyId: encrypted.keyId }))
        assert.strictEqual(decrypt.code, status.DATA_LOSS)
        fake.clearFaults()
        fake.inject({ fault: { kind: "wrongName" }, method: "Encrypt" })
        const wrongName = yield* Effect.flip(client.v2Encrypt({ plaintext: Buffer.from("x") }))
        assert.strictEqual(wrongName.code, status.DATA_LOSS)
        fake.clearFaults()
        fake.inject({ fault: { kind: "unverifiedCrc" }, method: "Encrypt" })
        const unverified = yield* Effect.flip(client.v2Encrypt({ plaintext: Buffer.from("x") }))
        assert.strictEqual(unverified.code, status.DATA_LOSS)
      }),
      { keyRefreshInterval: Option.some("1m") }
    )
  )

  it.live("100 concurrent identical Decrypts share one Cloud KMS call", () =>
    withCloud(
      Effect.gen(function* () {
        const { client } = yield* InProcessPlugin
        const fake = yield* FakeCloud
        const seed = randomBytes(32)
        const encrypted = yield* client.v2Encrypt({ plaintext: seed })
        // The Cloud KMS Decrypt waits until the other 99 have joined its flight, however slow the machine.
        const release = fake.hold("Decrypt")
        fake.resetCounters()
        const joinedBefore = yield* joinedFlights
        const decrypting = yield* Effect.forkChild(
          Effect.forEach(
            Array.from({ length: 100 }),
            () => client.v2Decrypt({ ciphertext: encrypted.ciphertext, keyId: encrypted.keyId }),
            { concurrency: "unbounded" }
          )
        )
        yield* awaitJoinedFlights(joinedBefore + 99)
        release()
        const results = yield* Fiber.join(decrypting)
        assert.strictEqual(fake.calls.Decrypt, 1)
        for (const r of results) assert.deepStrictEqual(Buffer.from(r.plaintext), seed)
        // The flight is over: the next Decrypt is a new Cloud KMS call (nothing cached).
        yield* client.v2Decrypt({ ciphertext: encrypted.ciphertext, keyId: encrypted.keyId })
        assert.strictEqual(fake.calls.Decrypt, 2)
      }),
      { keyRefreshInterval: Option.some("1m") }
    )
  )

  it.live("without cloudkms.cryptoKeys.get the key version is learned with an Encrypt probe", () =>
    Effect.gen(function* () {
      const fake = yield* FakeCloud
      fake.denyPermissions(cloudKeyUri, ["cloudkms.cryptoKeys.get"])
      yield* Effect.provide(
        Effect.gen(function* () {
          const { client } = yield* InProcessPlugin
          assert.deepStrictEqual(yield* client.v2Status, { version: "v2", healthz: "ok", keyId: version(1) })
        }),
        // A generous attempt timeout: a retried (timed-out) probe under load would be counted twice.
        cloudPlugin({ keyRefreshInterval: Option.some("1m"), kmsAttemptTimeout: Option.some("10s") })
      )
      assert.strictEqual(fake.calls.GetCryptoKey, 1)
      assert.strictEqual(fake.calls.Encrypt, 1)
    }).pipe(Effect.provide(FakeCloud.layer))
  )

  it.live("a Decrypt joining an identical one in flight still answers before its own (shorter) deadline", () =>
    Effect.gen(function* () {
      const { config } = yield* InProcessPlugin
      const fake = yield* FakeCloud
      const long = yield* makePluginClient(targetOf(config.socketPath), { timeoutMillis: 10_000 })
      const short = yield* makePluginClient(targetOf(config.socketPath), { timeoutMillis: 3_000 })
      const encrypted = yield* long.v2Encrypt({ plaintext: Buffer.from("x") })
      fake.inject({ fault: { kind: "hang" }, method: "Decrypt" })
      const first = yield* Effect.forkChild(Effect.exit(long.v2Decrypt({ ciphertext: encrypted.ciphertext, keyId: encrypted.keyId })))
      yield* Effect.promise(() => once(fake.events, "call"))
      const joiner = yield* Effect.flip(short.v2Decrypt({ ciphertext: encrypted.ciphertext, keyId: encrypted.keyId }))
      assert.strictEqual(joiner.code, status.UNAVAILABLE)
      yield* Fiber.interrupt(first)
    }).pipe(Effect.scoped, withCloudFlags({ keyRefreshInterval: Option.some("1m"), kmsAttemptTimeout: Option.some("10s") }))
  )

  it.live("Encrypt on a disabled pinned version does not wait for a slow key check past its deadline", () =>
    withCloud(
      Effect.gen(function* () {
        const { client } = yield* InProcessPlugin
        const fake = yield* FakeCloud
        fake.rotate(cloudKeyUri)
        fake.setVersionState(cloudKeyUri, 1, "DISABLED")
        fake.setLatency({ millis: 5_000 }, "GetCryptoKey")
        const failure = yield* Effect.flip(client.v2Encrypt({ plaintext: Buffer.from("x") }))
        assert.strictEqual(failure.code, status.FAILED_PRECONDITION)
      }),
      { keyRefreshInterval: Option.some("1m"), kmsAttemptTimeout: Option.some("10s") },
      3_000
    )
  )

  it.live("an endpoint without GetCryptoKey (UNIMPLEMENTED) works too, through the Encrypt probe", () =>
    Effect.gen(function* () {
      const fake = yield* FakeCloud
      fake.inject({ fault: { kind: "fail", code: status.UNIMPLEMENTED }, method: "GetCryptoKey" })
      yield* Effect.provide(
        Effect.gen(function* () {
          const { client } = yield* InProcessPlugin
          assert.deepStrictEqual(yield* client.v2Status, { version: "v2", healthz: "ok", keyId: version(1) })
          const encrypted = yield* client.v2Encrypt({ plaintext: Buffer.from("x") })
          assert.strictEqual(encrypted.keyId, version(1))
        }),
        cloudPlugin({ keyRefreshInterval: Option.some("1m") })
      )
    }).pipe(Effect.provide(FakeCloud.layer))
  )

  it.live("Cloud KMS down at start: the plugin serves, Status says why with no key_id, and recovers on its own", () =>
    Effect.gen(function* () {
      const fake = yield* FakeCloud
      fake.inject({ fault: { kind: "fail", code: status.UNAVAILABLE, message: "down for the test" } })
      yield* Effect.provide(
        Effect.gen(function* () {
          const { client } = yield* InProcessPlugin
          const down = yield* client.v2Status
          assert.strictEqual(down.keyId, "")
          assert.include(down.healthz, "UNAVAILABLE")
          const encrypt = yield* Effect.flip(client.v2Encrypt({ plaintext: Buffer.from("x") }))
          assert.strictEqual(encrypt.code, status.UNAVAILABLE)
          fake.clearFaults()
          yield* statusReaches(version(1))
        }),
        cloudPlugin({ kmsMaxAttempts: Option.some("2") })
      )
    }).pipe(Effect.provide(FakeCloud.layer))
  )
})

const codeOf = (exit: Exit.Exit<unknown, { readonly code: number }>): number =>
  Exit.isFailure(exit) ? (exit.cause.reasons.find((r) => r._tag === "Fail")?.error.code ?? -1) : 0
