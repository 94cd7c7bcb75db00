import { spawn } from "node:child_process"
import { once } from "node:events"
import { createInterface } from "node:readline"
import { crc32c } from "@aws-crypto/crc32c"
import type { KeyManagementServiceClient } from "@google-cloud/kms"
import { status } from "@grpc/grpc-js"
import * as Effect from "effect/Effect"
import * as fc from "fast-check"
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest"
import { cloudKmsClientFor, keepAuthOffline, noRetry, noRetryWithin } from "./cloudKmsClient.ts"
import { type FakeCloudKms, fakeCloudKms, startFakeCloudKms } from "./FakeCloudKms.ts"

keepAuthOffline()

const ring = "projects/p/locations/l/keyRings/r"
const keyA = `${ring}/cryptoKeys/a`
const keyB = `${ring}/cryptoKeys/b`
const version = (key: string, n: number) => `${key}/cryptoKeyVersions/${n}`
let fresh = 0
/** A key of its own for a test that changes key state. */
const freshKey = (fake: FakeCloudKms): string => {
  const name = `${ring}/cryptoKeys/fresh-${++fresh}`
  fake.addKey(name)
  return name
}

const crcOf = (data: Uint8Array): string => crc32c(data).toString()

const bytesOf = (value: unknown): Buffer => {
  if (!(value instanceof Uint8Array)) throw new Error(`expected bytes, got ${typeof value}`)
  return Buffer.from(value)
}

/** The gRPC status a client call failed with (fails the test if it succeeded). */
const failureOf = async (call: Promise<unknown>): Promise<{ code: unknown; details: unknown }> => {
  try {
    await call
  } catch (error) {
    if (typeof error !== "object" || error === null) throw error
    return { code: Reflect.get(error, "code"), details: Reflect.get(error, "details") }
  }
  throw new Error("the call succeeded, a failure was expected")
}

// The IAM types of gax are protobuf.js classes; a structural literal will do.
const iamRequest = (resource: string, permissions: Array<string>) => ({ resource, permissions, toJSON: () => ({ resource, permissions }) })

describe("fake Cloud KMS through the real @google-cloud/kms client", () => {
  let fake: FakeCloudKms
  let client: KeyManagementServiceClient

  const encrypt = async (name: string, plaintext: Uint8Array, extra: { aad?: Uint8Array } = {}) => {
    const [response] = await client.encrypt(
      {
        name,
        plaintext,
        plaintextCrc32c: { value: crc32c(plaintext) },
        ...(extra.aad === undefined ? {} : { additionalAuthenticatedData: extra.aad })
      },
      noRetry
    )
    return { name: response.name, ciphertext: bytesOf(response.ciphertext), response }
  }
  const decrypt = async (name: string, ciphertext: Uint8Array, extra: { aad?: Uint8Array } = {}) => {
    const [response] = await client.decrypt(
      {
        name,
        ciphertext,
        ciphertextCrc32c: { value: crcOf(ciphertext) },
        ...(extra.aad === undefined ? {} : { additionalAuthenticatedData: extra.aad })
      },
      noRetry
    )
    return { plaintext: bytesOf(response.plaintext), response }
  }

  beforeAll(async () => {
    fake = await startFakeCloudKms({ keys: [keyA, keyB], seed: 7 })
    client = cloudKmsClientFor(fake)
  })
  afterAll(async () => {
    await client.close()
    await fake.stop()
  })
  beforeEach(() => {
    fake.clearFaults()
    fake.resetCounters()
  })

  it("serves on 127.0.0.1 at an ephemeral port", () => {
    expect(fake.host).toBe("127.0.0.1")
    expect(fake.port).toBeGreaterThan(0)
    expect(fake.address).toBe(`127.0.0.1:${fake.port}`)
  })

  it("round trip for any plaintext of 1 B to 64 KiB, with every CRC32C field right", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.uint8Array({ minLength: 1, maxLength: 64 }),
          fc.uint8Array({ minLength: 1, maxLength: 65536 }),
          fc.constant(new Uint8Array(65536).fill(7))
        ),
        async (plaintext) => {
          const encrypted = await encrypt(keyA, plaintext)
          expect(encrypted.name).toBe(version(keyA, 1))
          expect(encrypted.response.ciphertextCrc32c?.value).toBe(crcOf(encrypted.ciphertext))
          expect(encrypted.response.verifiedPlaintextCrc32c).toBe(true)
          expect(encrypted.response.verifiedAdditionalAuthenticatedDataCrc32c).toBe(false)
          expect(encrypted.response.protectionLevel).toBe("SOFTWARE")
          expect(encrypted.ciphertext.length).toBeGreaterThan(plaintext.length)
          const decrypted = await decrypt(keyA, encrypted.ciphertext)
          expect(decrypted.plaintext).toEqual(Buffer.from(plaintext))
          expect(decrypted.response.plaintextCrc32c?.value).toBe(crcOf(plaintext))
          expect(decrypted.response.usedPrimary).toBe(true)
          expect(decrypted.response.protectionLevel).toBe("SOFTWARE")
        }
      ),
      { numRuns: 25 }
    )
  })

  it("the CRC32C check value is the standard one (crc32c of 123456789 = 0xe3069283)", () => {
    expect(crc32c(Buffer.from("123456789"))).toBe(0xe3069283)
  })

  it("verified* flags are true only for checksums the request carried; Int64Value as number or string", async () => {
    const plaintext = Buffer.from("secret")
    const aad = Buffer.from("context")
    const [bare] = await client.encrypt({ name: keyA, plaintext }, noRetry)
    expect(bare.verifiedPlaintextCrc32c).toBe(false)
    expect(bare.verifiedAdditionalAuthenticatedDataCrc32c).toBe(false)
    const [both] = await client.encrypt(
      {
        name: keyA,
        plaintext,
        plaintextCrc32c: { value: crcOf(plaintext) },
        additionalAuthenticatedData: aad,
        additionalAuthenticatedDataCrc32c: { value: crc32c(aad) }
      },
      noRetry
    )
    expect(both.verifiedPlaintextCrc32c).toBe(true)
    expect(both.verifiedAdditionalAuthenticatedDataCrc32c).toBe(true)
    expect(both.ciphertextCrc32c?.value).toBe(crcOf(bytesOf(both.ciphertext)))
  })

  it("a CRC32C that does not match its data is INVALID_ARGUMENT, in Encrypt and Decrypt", async () => {
    const plaintext = Buffer.from("secret")
    const wrong = { value: ((crc32c(plaintext) + 1) >>> 0).toString() }
    expect(await failureOf(client.encrypt({ name: keyA, plaintext, plaintextCrc32c: wrong }, noRetry))).toEqual({
      code: status.INVALID_ARGUMENT,
      details: "The checksum in field plaintext_crc32c did not match the data in field plaintext."
    })
    const aadFailure = await failureOf(
      client.encrypt(
        { name: keyA, plaintext, additionalAuthenticatedData: Buffer.from("x"), additionalAuthenticatedDataCrc32c: { value: 1 } },
        noRetry
      )
    )
    expect(aadFailure.code).toBe(status.INVALID_ARGUMENT)
    const { ciphertext } = await encrypt(keyA, plaintext)
    expect(await failureOf(client.decrypt({ name: keyA, ciphertext, ciphertextCrc32c: { value: 12345 } }, noRetry))).toEqual({
      code: status.INVALID_ARGUMENT,
      details: "The checksum in field ciphertext_crc32c did not match the data in field ciphertext."
    })
  })

  it("additional authenticated data must match; a ciphertext of key A never opens under key B", async () => {
    const invalid = { code: status.INVALID_ARGUMENT, details: "Decryption failed: the ciphertext is invalid." }
    const aad = Buffer.from("namespace/secret")
    const { ciphertext } = await encrypt(keyA, Buffer.from("data"), { aad })
    expect((await decrypt(keyA, ciphertext, { aad })).plaintext.toString()).toBe("data")
    expect(await failureOf(decrypt(keyA, ciphertext, { aad: Buffer.from("other") }))).toEqual(invalid)
    expect(await failureOf(decrypt(keyA, ciphertext))).toEqual(invalid)
    expect(await failureOf(decrypt(keyB, ciphertext, { aad }))).toEqual(invalid)
    expect(await failureOf(decrypt(keyA, Buffer.from("not a ciphertext at all, but long enough")))).toEqual(invalid)
  })

  it("plaintext must be 1 to 65536 bytes", async () => {
    expect((await failureOf(client.encrypt({ name: keyA, plaintext: Buffer.alloc(0) }, noRetry))).code).toBe(status.INVALID_ARGUMENT)
    expect((await failureOf(client.encrypt({ name: keyA, plaintext: Buffer.alloc(65537) }, noRetry))).code).toBe(status.INVALID_ARGUMENT)
  })

  it("rotation makes a new primary; older ciphertext still decrypts, with usedPrimary false", async () => {
    const key = freshKey(fake)
    const before = await encrypt(key, Buffer.from("v1 data"))
    expect(fake.rotate(key)).toBe(2)
    const after = await encrypt(key, Buffer.from("v2 data"))
    expect(before.name).toBe(version(key, 1))
    expect(after.name).toBe(version(key, 2))
    const [described] = await client.getCryptoKey({ name: key }, noRetry)
    expect(described.primary?.name).toBe(version(key, 2))
    const old = await decrypt(key, before.ciphertext)
    expect(old.plaintext.toString()).toBe("v1 data")
    expect(old.response.usedPrimary).toBe(false)
    expect((await decrypt(key, after.ciphertext)).response.usedPrimary).toBe(true)
    fake.setPrimary(key, 1)
    expect((await encrypt(key, Buffer.from("x"))).name).toBe(version(key, 1))
  })

  it("Encrypt to a specific version uses it; an unknown version is NOT_FOUND", async () => {
    const key = freshKey(fake)
    fake.rotate(key)
    const pinned = await encrypt(version(key, 1), Buffer.from("pinned"))
    expect(pinned.name).toBe(version(key, 1))
    expect((await decrypt(key, pinned.ciphertext)).response.usedPrimary).toBe(false)
    expect(await failureOf(encrypt(version(key, 9), Buffer.from("x")))).toEqual({
      code: status.NOT_FOUND,
      details: `CryptoKeyVersion ${version(key, 9)} not found.`
    })
  })

  it("Decrypt takes the crypto key, not a version: INVALID_ARGUMENT", async () => {
    const { ciphertext } = await encrypt(keyA, Buffer.from("x"))
    expect((await failureOf(decrypt(version(keyA, 1), ciphertext))).code).toBe(status.INVALID_ARGUMENT)
  })

  it("a DISABLED or DESTROYED version is FAILED_PRECONDITION naming it; DESTROYED is final", async () => {
    const key = freshKey(fake)
    const { ciphertext } = await encrypt(key, Buffer.from("x"))
    fake.rotate(key)
    fake.setVersionState(key, 1, "DISABLED")
    const disabled = { code: status.FAILED_PRECONDITION, details: `${version(key, 1)} is not enabled, current state is: DISABLED.` }
    expect(await failureOf(decrypt(key, ciphertext))).toEqual(disabled)
    expect(await failureOf(encrypt(version(key, 1), Buffer.from("x")))).toEqual(disabled)
    expect(() => fake.setPrimary(key, 1)).toThrow(/DISABLED/)
    fake.setVersionState(key, 1, "ENABLED")
    expect((await decrypt(key, ciphertext)).plaintext.toString()).toBe("x")
    fake.setVersionState(key, 1, "DESTROYED")
    expect(await failureOf(decrypt(key, ciphertext))).toEqual({
      code: status.FAILED_PRECONDITION,
      details: `${version(key, 1)} is not enabled, current state is: DESTROYED.`
    })
    expect(() => fake.setVersionState(key, 1, "ENABLED")).toThrow(/destroyed/)
  })

  it("an unknown crypto key is NOT_FOUND naming it, for every method", async () => {
    const missing = `${ring}/cryptoKeys/missing`
    const notFound = { code: status.NOT_FOUND, details: `CryptoKey ${missing} not found.` }
    expect(await failureOf(encrypt(missing, Buffer.from("x")))).toEqual(notFound)
    expect(await failureOf(client.decrypt({ name: missing, ciphertext: Buffer.alloc(40) }, noRetry))).toEqual(notFound)
    expect(await failureOf(client.getCryptoKey({ name: missing }, noRetry))).toEqual(notFound)
    expect(await failureOf(client.testIamPermissions(iamRequest(missing, ["cloudkms.cryptoKeys.get"]), noRetry))).toEqual(notFound)
  })

  it("GetCryptoKey describes the key and its primary version", async () => {
    const [key] = await client.getCryptoKey({ name: keyB }, noRetry)
    expect(key.name).toBe(keyB)
    expect(key.purpose).toBe("ENCRYPT_DECRYPT")
    expect(key.primary?.name).toBe(version(keyB, 1))
    expect(key.primary?.state).toBe("ENABLED")
    expect(key.primary?.protectionLevel).toBe("SOFTWARE")
    expect(key.primary?.algorithm).toBe("GOOGLE_SYMMETRIC_ENCRYPTION")
    expect(Number(key.createTime?.seconds)).toBeGreaterThan(1_600_000_000)
  })

  it("TestIamPermissions answers the granted subset; denied permissions also fail the calls", async () => {
    const key = freshKey(fake)
    const asked = [
      "cloudkms.cryptoKeyVersions.useToEncrypt",
      "cloudkms.cryptoKeyVersions.useToDecrypt",
      "cloudkms.cryptoKeys.get",
      "cloudkms.cryptoKeys.update"
    ]
    const [all] = await client.testIamPermissions(iamRequest(key, asked), noRetry)
    expect(all.permissions).toEqual(asked.slice(0, 3))
    fake.denyPermissions(key, ["cloudkms.cryptoKeyVersions.useToEncrypt"])
    const [some] = await client.testIamPermissions(iamRequest(key, asked), noRetry)
    expect(some.permissions).toEqual(["cloudkms.cryptoKeyVersions.useToDecrypt", "cloudkms.cryptoKeys.get"])
    expect((await failureOf(encrypt(key, Buffer.from("x")))).code).toBe(status.PERMISSION_DENIED)
    fake.denyPermissions(key, [])
    expect((await encrypt(key, Buffer.from("x"))).name).toBe(version(key, 1))
    expect(fake.calls.TestIamPermissions).toBe(2)
  })

  it("methods the fake does not serve are UNIMPLEMENTED", async () => {
    expect((await failureOf(client.getKeyRing({ name: ring }, noRetry))).code).toBe(status.UNIMPLEMENTED)
  })

  it("counts calls per method and remembers names, never plaintext", async () => {
    await encrypt(keyA, Buffer.from("TOP-SECRET-PLAINTEXT"))
    await client.getCryptoKey({ name: keyB }, noRetry)
    expect(fake.calls).toEqual({ Encrypt: 1, Decrypt: 0, GetCryptoKey: 1, TestIamPermissions: 0 })
    expect(fake.requests).toEqual([
      { method: "Encrypt", name: keyA },
      { method: "GetCryptoKey", name: keyB }
    ])
    expect(JSON.stringify(fake.requests)).not.toContain("TOP-SECRET")
    fake.resetCounters()
    expect(fake.calls.Encrypt).toBe(0)
    expect(fake.requests).toEqual([])
  })

  describe("faults", () => {
    it("fail the next N calls of one method with a given status, then recover", async () => {
      fake.inject({ method: "Encrypt", times: 2, fault: { kind: "fail", code: status.UNAVAILABLE, message: "try later" } })
      const expected = { code: status.UNAVAILABLE, details: "try later" }
      expect(await failureOf(encrypt(keyA, Buffer.from("x")))).toEqual(expected)
      const [described] = await client.getCryptoKey({ name: keyA }, noRetry) // other methods unaffected
      expect(described.name).toBe(keyA)
      expect(await failureOf(encrypt(keyA, Buffer.from("x")))).toEqual(expected)
      expect((await encrypt(keyA, Buffer.from("x"))).name).toBe(version(keyA, 1))
      expect(fake.calls.Encrypt).toBe(3)
    })

    it("a fault for all methods hits whichever comes next", async () => {
      fake.inject({ times: 1, fault: { kind: "fail", code: status.RESOURCE_EXHAUSTED } })
      expect((await failureOf(client.getCryptoKey({ name: keyA }, noRetry))).code).toBe(status.RESOURCE_EXHAUSTED)
      expect((await encrypt(keyA, Buffer.from("x"))).name).toBe(version(keyA, 1))
    })

    it("fail with a probability: reproducible for a seed, and neither never nor always", async () => {
      const pattern = async (seed: number): Promise<string> => {
        const other = await startFakeCloudKms({ keys: [keyA], seed })
        const otherClient = cloudKmsClientFor(other)
        other.inject({ probability: 0.5, fault: { kind: "fail", code: status.INTERNAL } })
        let outcomes = ""
        for (let i = 0; i < 40; i++) {
          outcomes += await otherClient.getCryptoKey({ name: keyA }, noRetry).then(
            () => "o",
            () => "x"
          )
        }
        await otherClient.close()
        await other.stop()
        return outcomes
      }
      const first = await pattern(42)
      expect(await pattern(42)).toBe(first)
      expect(first).toMatch(/o/)
      expect(first).toMatch(/x/)
    })

    it("latency delays answers (fixed, and with jitter)", async () => {
      fake.setLatency({ millis: 120 }, "Encrypt")
      let started = performance.now()
      await encrypt(keyA, Buffer.from("x"))
      expect(performance.now() - started).toBeGreaterThanOrEqual(115)
      fake.setLatency({ millis: 60, jitterMillis: 40 })
      started = performance.now()
      await client.getCryptoKey({ name: keyA }, noRetry)
      expect(performance.now() - started).toBeGreaterThanOrEqual(55)
    })

    it("a held method waits until released, while other methods answer", async () => {
      const { ciphertext } = await encrypt(keyA, Buffer.from("held"))
      const release = fake.hold("Decrypt")
      const arrived = once(fake.events, "call")
      let answered = false
      const decrypting = decrypt(keyA, ciphertext).finally(() => {
        answered = true
      })
      expect(await arrived).toEqual([expect.objectContaining({ method: "Decrypt", name: keyA })])
      // Asked after the held Decrypt arrived, answered before it.
      await client.getCryptoKey({ name: keyA }, noRetry)
      expect(answered).toBe(false)
      release()
      expect((await decrypting).plaintext.toString()).toBe("held")
      expect((await decrypt(keyA, ciphertext)).plaintext.toString()).toBe("held")
    })

    it("clearFaults releases a hold", async () => {
      const { ciphertext } = await encrypt(keyA, Buffer.from("held"))
      fake.hold("Decrypt")
      const arrived = once(fake.events, "call")
      const decrypting = decrypt(keyA, ciphertext)
      await arrived
      fake.clearFaults()
      expect((await decrypting).plaintext.toString()).toBe("held")
    })

    it("a corrupted Encrypt ciphertext is caught by recomputing its CRC32C client-side", async () => {
      fake.inject({ method: "Encrypt", times: 1, fault: { kind: "corrupt" } })
      const bad = await encrypt(keyA, Buffer.from("payload"))
      expect(bad.response.ciphertextCrc32c?.value).not.toBe(crcOf(bad.ciphertext))
      const good = await encrypt(keyA, Buffer.from("payload"))
      expect(good.response.ciphertextCrc32c?.value).toBe(crcOf(good.ciphertext))
    })

    it("a corrupted Decrypt plaintext is caught by recomputing its CRC32C client-side", async () => {
      const { ciphertext } = await encrypt(keyA, Buffer.from("payload"))
      fake.inject({ method: "Decrypt", times: 1, fault: { kind: "corrupt" } })
      const bad = await decrypt(keyA, ciphertext)
      expect(bad.plaintext.toString()).not.toBe("payload")
      expect(bad.response.plaintextCrc32c?.value).toBe(crcOf(Buffer.from("payload")))
      expect(bad.response.plaintextCrc32c?.value).not.toBe(crcOf(bad.plaintext))
    })

    it("verifiedPlaintextCrc32c can be reported false although the checksum was sent", async () => {
      fake.inject({ times: 1, fault: { kind: "unverifiedCrc" } })
      expect((await encrypt(keyA, Buffer.from("x"))).response.verifiedPlaintextCrc32c).toBe(false)
      expect((await encrypt(keyA, Buffer.from("x"))).response.verifiedPlaintextCrc32c).toBe(true)
    })

    it("a response can name another version or key", async () => {
      fake.inject({ method: "Encrypt", times: 1, fault: { kind: "wrongName" } })
      expect((await encrypt(keyA, Buffer.from("x"))).name).toBe(version(keyA, 2))
      fake.inject({ method: "Encrypt", times: 1, fault: { kind: "wrongName", name: version(keyB, 1) } })
      expect((await encrypt(keyA, Buffer.from("x"))).name).toBe(version(keyB, 1))
      fake.inject({ method: "GetCryptoKey", times: 1, fault: { kind: "wrongName" } })
      expect((await client.getCryptoKey({ name: keyA }, noRetry))[0].name).toBe(`${keyA}-other`)
    })

    it("a quota answers RESOURCE_EXHAUSTED beyond N Encrypt/Decrypt calls in a second, and counts them; reads are not counted", async () => {
      fake.setQuota({ callsPerSecond: 2 })
      const outcomes = await Promise.all(
        Array.from({ length: 6 }, () =>
          encrypt(keyA, Buffer.from("q")).then(
            () => "OK",
            async (error: unknown) => {
              const code: unknown = typeof error === "object" && error !== null ? Reflect.get(error, "code") : undefined
              return code === status.RESOURCE_EXHAUSTED ? "RESOURCE_EXHAUSTED" : `unexpected ${String(code)}`
            }
          )
        )
      )
      expect(outcomes.filter((o) => o !== "OK" && o !== "RESOURCE_EXHAUSTED")).toEqual([])
      expect(outcomes.filter((o) => o === "OK").length).toBeGreaterThanOrEqual(2)
      expect(fake.quotaRefusals()).toBe(outcomes.filter((o) => o === "RESOURCE_EXHAUSTED").length)
      expect(fake.quotaRefusals()).toBeGreaterThan(0)
      const [described] = await client.getCryptoKey({ name: keyA }, noRetry)
      expect(described.name).toBe(keyA)
      fake.setQuota(undefined)
      expect((await encrypt(keyA, Buffer.from("q"))).name).toBe(version(keyA, 1))
    })

    it("faults that do not fit a method are refused", () => {
      expect(() => fake.inject({ method: "GetCryptoKey", fault: { kind: "corrupt" } })).toThrow(/does not apply/)
      expect(() => fake.inject({ times: 0, fault: { kind: "hang" } })).toThrow(/positive/)
    })

    it("a hung call ends at the client's deadline, and the server counts it cancelled", async () => {
      fake.inject({ method: "Encrypt", times: 1, fault: { kind: "hang" } })
      const cancelled = once(fake.events, "cancelled")
      const started = performance.now()
      const failure = await failureOf(client.encrypt({ name: keyA, plaintext: Buffer.from("x") }, noRetryWithin(300)))
      expect(failure.code).toBe(status.DEADLINE_EXCEEDED)
      expect(performance.now() - started).toBeGreaterThanOrEqual(290)
      expect(await cancelled).toEqual([{ method: "Encrypt", name: keyA }])
      expect(fake.cancelled).toEqual({ Encrypt: 1, Decrypt: 0, GetCryptoKey: 0, TestIamPermissions: 0 })
      expect((await encrypt(keyA, Buffer.from("x"))).name).toBe(version(keyA, 1))
      expect(fake.cancelled.Encrypt).toBe(1) // a normal answer is not counted as cancelled
    })

    it("a call cancelled while delayed by latency is counted too", async () => {
      fake.setLatency({ millis: 5_000 }, "Decrypt")
      const cancelled = once(fake.events, "cancelled")
      const failure = await failureOf(client.decrypt({ name: keyA, ciphertext: Buffer.alloc(40) }, noRetryWithin(200)))
      expect(failure.code).toBe(status.DEADLINE_EXCEEDED)
      await cancelled
      expect(fake.cancelled.Decrypt).toBe(1)
    })

    it("restart drops connections and in-flight calls (UNAVAILABLE), then serves the same keys on the same port", async () => {
      const { ciphertext } = await encrypt(keyA, Buffer.from("kept"))
      fake.inject({ method: "Encrypt", times: 1, fault: { kind: "hang" } })
      const arrived = once(fake.events, "call")
      const inFlight = failureOf(client.encrypt({ name: keyA, plaintext: Buffer.from("x") }, noRetry))
      await arrived
      const cancelled = once(fake.events, "cancelled")
      const port = fake.port
      await fake.restart()
      expect((await inFlight).code).toBe(status.UNAVAILABLE)
      await cancelled
      expect(fake.cancelled.Encrypt).toBe(1)
      expect(fake.port).toBe(port)
      expect((await decrypt(keyA, ciphertext)).plaintext.toString()).toBe("kept")
    })
  })
})

describe("fake Cloud KMS lifecycle", () => {
  it("refuses to listen anywhere but loopback", async () => {
    await expect(startFakeCloudKms({ keys: [keyA], host: "0.0.0.0" })).rejects.toThrow(/loopback/)
  })

  it("without TestIamPermissions (an emulator, a proxy), that call is UNIMPLEMENTED and the others work", async () => {
    const fake = await startFakeCloudKms({ keys: [keyA], testIamPermissions: false })
    const client = cloudKmsClientFor(fake)
    expect((await failureOf(client.testIamPermissions(iamRequest(keyA, ["cloudkms.cryptoKeyVersions.useToEncrypt"]), noRetry))).code).toBe(
      status.UNIMPLEMENTED
    )
    expect((await client.getCryptoKey({ name: keyA }, noRetry))[0].name).toBe(keyA)
    await client.close()
    await fake.stop()
  })

  it("after stop() calls fail UNAVAILABLE; stop() twice is fine", async () => {
    const fake = await startFakeCloudKms({ keys: [keyA], latencyMillis: 1 })
    const client = cloudKmsClientFor(fake)
    expect((await client.getCryptoKey({ name: keyA }, noRetry))[0].name).toBe(keyA)
    await fake.stop()
    await fake.stop()
    expect((await failureOf(client.getCryptoKey({ name: keyA }, noRetry))).code).toBe(status.UNAVAILABLE)
    await client.close()
  })

  it("the scoped Effect constructor stops the server when the scope closes", async () => {
    const port = await Effect.runPromise(
      Effect.scoped(
        Effect.gen(function* () {
          const fake = yield* fakeCloudKms({ keys: [keyB] })
          const client = cloudKmsClientFor(fake)
          const [key] = yield* Effect.promise(() => client.getCryptoKey({ name: keyB }, noRetry))
          expect(key.name).toBe(keyB)
          yield* Effect.promise(() => client.close())
          return fake.port
        })
      )
    )
    const client = cloudKmsClientFor({ host: "127.0.0.1", port })
    expect((await failureOf(client.getCryptoKey({ name: keyB }, noRetry))).code).toBe(status.UNAVAILABLE)
    await client.close()
  })

  it("runFakeCloudKms.ts prints its address, serves, and exits 0 on SIGTERM", async () => {
    const child = spawn(
      process.execPath,
      ["test/fakes/runFakeCloudKms.ts", "--port", "0", "--key", keyA, "--key", keyB, "--latency", "5ms"],
      {
        stdio: ["ignore", "pipe", "pipe"]
      }
    )
    const exited = once(child, "exit")
    const [line] = await once(createInterface({ input: child.stdout }), "line")
    expect(line).toMatch(/^fake cloud kms listening on 127\.0\.0\.1:\d+$/)
    const port = Number(String(line).split(":").at(-1))
    const client = cloudKmsClientFor({ host: "127.0.0.1", port })
    const [key] = await client.getCryptoKey({ name: keyB }, noRetry)
    expect(key.primary?.name).toBe(version(keyB, 1))
    await client.close()
    child.kill("SIGTERM")
    expect(await exited).toEqual([0, null])
  })
})
