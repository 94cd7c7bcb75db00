import { createHash } from "node:crypto"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import * as Result from "effect/Result"
import { ConfigError } from "../../config/ConfigError.ts"
import { PluginConfig } from "../../config/PluginConfig.ts"
import { StartupError } from "../../runtime/StartupError.ts"
import { readGceConfig } from "./auth/GceConfig.ts"
import { hostedMasterAuthClient } from "./auth/HostedMasterAuth.ts"
import { coalescedDecrypts } from "../../observability/Metrics.ts"
import { KeyManagement, type KeyManagementShape } from "../KeyManagement.ts"
import { type KmsError, KmsUnavailable, UnknownKey } from "../KmsErrors.ts"
import { makeSingleFlight } from "../SingleFlight.ts"
import { type CloudKmsApi, makeCloudKmsApi } from "./CloudKmsClient.ts"
import { decryptPermission, encryptPermission } from "./CloudKmsErrors.ts"
import { crc32cOf, verifyDecrypt, verifyEncrypt } from "./Integrity.ts"
import { makeKeyVersionTracker } from "./KeyVersionTracker.ts"
import { answerMarginFor, retryingCall } from "./RetryingCall.ts"

// KeyManagement on Google Cloud KMS. The ciphertext is Cloud KMS's own, with
// no envelope and no AAD, so data written by Google's Go plugin decrypts here
// and the other way round.

const make = (api: CloudKmsApi) =>
  Effect.gen(function*() {
    const config = yield* PluginConfig
    const tracker = yield* makeKeyVersionTracker(api, config)
    const decryptKeys = [config.keyUri, ...config.decryptKeyUris]
    const scope = yield* Effect.scope
    const flights = makeSingleFlight<Uint8Array, KmsError>(scope, Metric.update(coalescedDecrypts, 1))

    const encryptWith = (keyVersion: string, plaintext: Uint8Array, limits: Parameters<KeyManagementShape["encrypt"]>[1]) =>
      retryingCall(config.retry, limits, {
        operation: "encrypt",
        resource: keyVersion,
        send: (limits) => api.encrypt({ name: keyVersion, plaintext, plaintextCrc32c: { value: crc32cOf(plaintext) } }, limits),
        verify: verifyEncrypt(keyVersion)
      })

    const encrypt: KeyManagementShape["encrypt"] = (plaintext, limits) =>
      Effect.suspend(() => {
        const pinned = tracker.current()
        if (pinned === undefined) {
          return Effect.flatMap(tracker.status, (status) =>
            Effect.fail(new KmsUnavailable({ message: `no usable version of ${config.keyUri} known yet: ${status.problem ?? "checking"}` })))
        }
        return encryptWith(pinned, plaintext, limits).pipe(
          // The pinned version was disabled or destroyed: learn the new primary now and use it.
          Effect.catchTag("KeyUnusable", (error) =>
            Effect.flatMap(tracker.refreshNow(limits.deadline), (fresh) =>
              fresh === undefined || fresh === pinned ? Effect.fail(error) : encryptWith(fresh, plaintext, limits)))
        )
      })

    const decryptWith = (cryptoKey: string, ciphertext: Uint8Array, limits: Parameters<KeyManagementShape["decrypt"]>[2]) =>
      retryingCall(config.retry, limits, {
        operation: "decrypt",
        resource: cryptoKey,
        send: (limits) => api.decrypt({ name: cryptoKey, ciphertext, ciphertextCrc32c: { value: crc32cOf(ciphertext) } }, limits),
        verify: verifyDecrypt
      })

    // v1beta1 has no key_id: try --key-uri, then each --decrypt-key-uri, while Cloud KMS says "not this key".
    const decryptAnyKey = (ciphertext: Uint8Array, limits: Parameters<KeyManagementShape["decrypt"]>[2]) =>
      decryptKeys.slice(1).reduce<Effect.Effect<Uint8Array, KmsError>>(
        (attempt, key) => Effect.catchTag(attempt, "InvalidCiphertext", () => decryptWith(key, ciphertext, limits)),
        decryptWith(config.keyUri, ciphertext, limits)
      )

    const decrypt: KeyManagementShape["decrypt"] = (ciphertext, keyVersion, limits) =>
      Effect.suspend(() => {
        if (keyVersion !== undefined && !decryptKeys.includes(keyVersion.cryptoKey)) {
          return Effect.fail(new UnknownKey({ message: `${keyVersion.cryptoKey} is neither --key-uri nor a --decrypt-key-uri` }))
        }
        const target = keyVersion?.cryptoKey
        const flightKey = createHash("sha256").update(target ?? "*").update("\0").update(ciphertext).digest("base64")
        const deadline = limits.deadline
        return flights.run(
          flightKey,
          target === undefined ? decryptAnyKey(ciphertext, limits) : decryptWith(target, ciphertext, limits),
          deadline === undefined ? undefined : {
            millis: deadline - answerMarginFor(deadline - Date.now()) - Date.now(),
            orElse: () => new KmsUnavailable({ message: `Cloud KMS decrypt on ${target ?? config.keyUri}: no answer before the caller's deadline` })
          }
        )
      })

    // What roles/cloudkms.cryptoKeyEncrypterDecrypter grants, per key; TestIamPermissions needs no permission itself.
    const needed = [
      { key: config.keyUri, permissions: [encryptPermission, decryptPermission] },
      ...config.decryptKeyUris.map((key) => ({ key, permissions: [decryptPermission] }))
    ]
    const missingPermissions = Effect.map(
      Effect.forEach(needed, ({ key, permissions }) =>
        retryingCall(config.retry, { deadline: undefined }, {
          operation: "testIamPermissions",
          resource: key,
          send: (limits) => api.testIamPermissions(key, permissions, limits),
          verify: (granted) => Result.succeed(permissions.filter((p) => !granted.includes(p)).map((p) => `${p} on ${key}`))
        }), { concurrency: "unbounded" }),
      (missing) => missing.flat()
    )

    return KeyManagement.of({ status: tracker.status, encrypt, decrypt, missingPermissions })
  })

/** --gce-config: the hosted-master token source it names, or none (Application Default Credentials). */
const gceConfigAuth = (file: string) =>
  Effect.gen(function*() {
    const source = readGceConfig(file)
    if (Result.isFailure(source)) return yield* new ConfigError({ problems: [{ flag: "gce-config", message: source.failure }] })
    if (source.success === undefined) {
      yield* Effect.logInfo(`${file} names no token-url: using Application Default Credentials`)
      return undefined
    }
    return yield* hostedMasterAuthClient(source.success).pipe(
      Effect.mapError((error) => new StartupError({ message: `--gce-config ${file}: no first token: ${error.message}` }))
    )
  })

/** The Cloud KMS backend; the client is loaded here, only when this layer is built. */
export const CloudKmsLayer: Layer.Layer<KeyManagement, ConfigError | StartupError, PluginConfig> = Layer.effect(
  KeyManagement,
  Effect.gen(function*() {
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
