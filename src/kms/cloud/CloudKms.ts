import { hash } from "node:crypto"
import { status } from "@grpc/grpc-js"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import * as Ref from "effect/Ref"
import * as Result from "effect/Result"
import { ConfigError } from "../../config/ConfigError.ts"
import type { KeyVersion } from "../../config/KeyNames.ts"
import { PluginConfig } from "../../config/PluginConfig.ts"
import { declareSeries } from "../../observability/Labels.ts"
import { coalescedDecrypts } from "../../observability/Metrics.ts"
import { operationNamer } from "../../observability/Operations.ts"
import { StartupError } from "../../runtime/StartupError.ts"
import { type CallLimits, KeyManagement } from "../KeyManagement.ts"
import { type KmsError, KmsUnavailable, UnknownKey } from "../KmsErrors.ts"
import { type FlightDue, makeSingleFlight } from "../SingleFlight.ts"
import { readGceConfig } from "./auth/GceConfig.ts"
import { hostedMasterAuthClient } from "./auth/HostedMasterAuth.ts"
import { type CloudKmsApi, makeCloudKmsApi } from "./CloudKmsClient.ts"
import { decryptPermission, encryptPermission } from "./CloudKmsErrors.ts"
import { answerDue } from "./Deadline.ts"
import { crc32cOf, verifyDecrypt, verifyEncrypt } from "./Integrity.ts"
import { makeKeyVersionTracker } from "./KeyVersionTracker.ts"
import { makeRateLimiter } from "./RateLimiter.ts"
import { declareCloudKmsSeries, retryingCall, retryingCallUntil } from "./RetryingCall.ts"

// KeyManagement on Google Cloud KMS. The ciphertext is Cloud KMS's own, with
// no envelope and no AAD, so data written by Google's Go plugin decrypts here
// and the other way round.

/** KeyManagement over a Cloud KMS API (the real client, or a scripted one in tests). */
export const make = (api: CloudKmsApi) =>
  Effect.gen(function* () {
    const config = yield* PluginConfig
    // Cryptographic calls share one bucket: the project's Cloud KMS quota is for them. Reads
    // (GetCryptoKey, TestIamPermissions) count against another quota, about once a minute: they bypass it.
    const limiter = config.kmsRateLimit === undefined ? undefined : yield* makeRateLimiter(config.kmsRateLimit)
    const tracker = yield* makeKeyVersionTracker(api, config, limiter)
    const decryptKeys = [config.keyUri, ...config.decryptKeyUris]
    const named = yield* operationNamer
    const flights = yield* makeSingleFlight<Uint8Array, KmsError>(Metric.update(coalescedDecrypts, 1))
    yield* Effect.andThen(declareCloudKmsSeries, declareSeries([coalescedDecrypts]))

    const encryptWith = (keyVersion: string, plaintext: Uint8Array, limits: CallLimits) =>
      retryingCall(config.retry, limits, {
        operation: "encrypt",
        resource: keyVersion,
        send: (limits) => api.encrypt({ name: keyVersion, plaintext, plaintextCrc32c: { value: crc32cOf(plaintext) } }, limits),
        verify: verifyEncrypt(keyVersion),
        limiter
      })

    const encrypt = Effect.fnUntraced(function* (plaintext: Uint8Array, limits: CallLimits) {
      const pinned = yield* tracker.current
      if (pinned === undefined) {
        const status = yield* tracker.status
        return yield* new KmsUnavailable({ message: `no usable version of ${config.keyUri} known yet: ${status.problem ?? "checking"}` })
      }
      return yield* encryptWith(pinned, plaintext, limits).pipe(
        // The pinned version was disabled or destroyed: learn the new primary now and use it.
        Effect.catchTag("KeyUnusable", (error) =>
          Effect.flatMap(tracker.refreshNow(limits.deadline), (fresh) =>
            fresh === undefined || fresh === pinned ? Effect.fail(error) : encryptWith(fresh, plaintext, limits)
          )
        )
      )
    }, named("CloudKms.encrypt"))

    // A Decrypt may be shared by several callers: it answers by the latest
    // answer due among those still waiting (FlightDue), read as it goes.
    const decryptWith = (cryptoKey: string, ciphertext: Uint8Array, due: FlightDue) =>
      retryingCallUntil(config.retry, due, {
        operation: "decrypt",
        resource: cryptoKey,
        send: (limits) => api.decrypt({ name: cryptoKey, ciphertext, ciphertextCrc32c: { value: crc32cOf(ciphertext) } }, limits),
        verify: verifyDecrypt,
        limiter
      })

    // v1beta1 has no key_id: try --key-uri, then each --decrypt-key-uri, while Cloud KMS says "not this key".
    const decryptAnyKey = (ciphertext: Uint8Array, due: FlightDue) =>
      decryptKeys
        .slice(1)
        .reduce<Effect.Effect<Uint8Array, KmsError>>(
          (attempt, key) => Effect.catchTag(attempt, "InvalidCiphertext", () => decryptWith(key, ciphertext, due)),
          decryptWith(config.keyUri, ciphertext, due)
        )

    const decrypt = Effect.fnUntraced(function* (ciphertext: Uint8Array, keyVersion: KeyVersion | undefined, limits: CallLimits) {
      if (keyVersion !== undefined && !decryptKeys.includes(keyVersion.cryptoKey)) {
        return yield* new UnknownKey({ message: `${keyVersion.cryptoKey} is neither --key-uri nor a --decrypt-key-uri` })
      }
      const target = keyVersion?.cryptoKey
      const flightKey = `${target ?? "*"}\0${hash("sha256", ciphertext, "base64")}`
      // Identical Decrypts in flight share one Cloud KMS call. Each caller
      // stops waiting when its own answer is due; one without a deadline
      // waits it out (the call is bounded by --kms-call-timeout for it).
      const deadline = limits.deadline
      const now = yield* Clock.currentTimeMillis
      return yield* flights.run(
        flightKey,
        (due) => (target === undefined ? decryptAnyKey(ciphertext, due) : decryptWith(target, ciphertext, due)),
        {
          due: answerDue(deadline ?? now + config.retry.callTimeoutMillis, now),
          orElse:
            deadline === undefined
              ? undefined
              : () =>
                  new KmsUnavailable({ message: `Cloud KMS decrypt on ${target ?? config.keyUri}: no answer before the caller's deadline` })
        }
      )
    }, named("CloudKms.decrypt"))

    // What roles/cloudkms.cryptoKeyEncrypterDecrypter grants, per key; TestIamPermissions needs no permission itself.
    const needed = [
      { key: config.keyUri, permissions: [encryptPermission, decryptPermission] },
      ...config.decryptKeyUris.map((key) => ({ key, permissions: [decryptPermission] }))
    ]
    // An endpoint without TestIamPermissions (an emulator, a proxy) answers
    // UNIMPLEMENTED, for good: from then on nothing is checked (readiness
    // follows the key's reachability alone), said once. Only that code counts:
    // a transient failure is reported as a failed check, and asked again.
    const iamUnimplemented = yield* Ref.make(false)
    const permissionsNotChecked = Effect.flatMap(Ref.getAndSet(iamUnimplemented, true), (known) =>
      known
        ? Effect.void
        : Effect.logWarning(
            "the Cloud KMS endpoint does not implement TestIamPermissions: permissions are not checked; readiness follows the key's reachability"
          )
    )
    const missingOn = ({ key, permissions }: (typeof needed)[number]) =>
      Effect.suspend(() => {
        let unimplemented = false
        return retryingCall(
          config.retry,
          { deadline: undefined },
          {
            operation: "testIamPermissions",
            resource: key,
            send: (limits) =>
              api
                .testIamPermissions(key, permissions, limits)
                .pipe(Effect.tapError((failed) => Effect.sync(() => (unimplemented ||= failed.code === status.UNIMPLEMENTED)))),
            verify: (granted) => Result.succeed(permissions.filter((p) => !granted.includes(p)).map((p) => `${p} on ${key}`))
          }
        ).pipe(Effect.catch((error) => (unimplemented ? Effect.as(permissionsNotChecked, []) : Effect.fail(error))))
      })
    const missingPermissions = Effect.flatMap(Ref.get(iamUnimplemented), (notChecked) =>
      notChecked
        ? Effect.succeed([])
        : Effect.map(Effect.forEach(needed, missingOn, { concurrency: "unbounded" }), (missing) => missing.flat())
    ).pipe(Effect.withSpan("CloudKms.missingPermissions"))

    return KeyManagement.of({ status: tracker.status, encrypt, decrypt, missingPermissions })
  })

/** --gce-config: the hosted-master token source it names, or none (Application Default Credentials). */
const gceConfigAuth = (file: string) =>
  Effect.gen(function* () {
    const source = yield* Effect.mapError(
      readGceConfig(file),
      (error) => new ConfigError({ problems: [{ flag: "gce-config", message: error.message }] })
    )
    if (source === undefined) {
      yield* Effect.logInfo(`${file} names no token-url: using Application Default Credentials`)
      return undefined
    }
    return yield* hostedMasterAuthClient(source).pipe(
      Effect.mapError((error) => new StartupError({ message: `--gce-config ${file}: no first token: ${error.message}` }))
    )
  })

/** KeyManagement on Google Cloud KMS; the client library is loaded only when this layer is built. */
export const layer: Layer.Layer<KeyManagement, ConfigError | StartupError, PluginConfig> = Layer.effect(
  KeyManagement,
  Effect.gen(function* () {
    const config = yield* PluginConfig
    const insecure = config.cloudEndpoint._tag === "Custom" && config.cloudEndpoint.insecure
    if (insecure) {
      yield* Effect.logWarning(
        `Cloud KMS at ${config.cloudEndpoint.host}:${config.cloudEndpoint.port} over plaintext gRPC with no credentials: for emulators and tests only`
      )
    }
    const authClient = config.gceConfig === undefined || insecure ? undefined : yield* gceConfigAuth(config.gceConfig)
    const api = yield* makeCloudKmsApi(config.cloudEndpoint, authClient)
    return yield* make(api)
  })
)
