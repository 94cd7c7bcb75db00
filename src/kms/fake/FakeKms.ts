import * as Context from "effect/Context"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Result from "effect/Result"
import * as SynchronizedRef from "effect/SynchronizedRef"
import { ConfigError } from "../../config/ConfigError.ts"
import { keyVersionName } from "../../config/KeyNames.ts"
import type { UnusableFile } from "../../config/OperatorFile.ts"
import { PluginConfig } from "../../config/PluginConfig.ts"
import { operationNamer } from "../../observability/Operations.ts"
import { type BackendRoute, BackendRoutes, KeyManagement, type KeyManagementShape, type KeyStatus } from "../KeyManagement.ts"
import { InvalidCiphertext, type KeyUnusable, type KmsError, UnknownKey } from "../KmsErrors.ts"
import { loadFakeKeys, saveFakeKeys } from "./FakeKeyFile.ts"
import {
  type FakeCryptoKey,
  newCryptoKey,
  open,
  rotated,
  sealWithPrimary,
  type VersionState,
  withPrimary,
  withVersionState
} from "./FakeKeyRing.ts"

/** A key change that could not be saved to --fake-key-file: it was not made, nothing changed. */
export class KeysNotSaved extends Data.TaggedError("KeysNotSaved")<{ readonly message: string }> {}

/** Key operations of the fake backend, for tests and development. Each is saved before it takes effect. */
export interface FakeKmsControlShape {
  /** Adds a version to the crypto key (default: --key-uri) and makes it primary. */
  readonly rotate: (cryptoKey?: string) => Effect.Effect<number, KeysNotSaved>
  readonly setVersionState: (version: number, state: VersionState, cryptoKey?: string) => Effect.Effect<void, KeysNotSaved>
  readonly setPrimary: (version: number, cryptoKey?: string) => Effect.Effect<void, KeysNotSaved>
}

export class FakeKmsControl extends Context.Service<FakeKmsControl, FakeKmsControlShape>()("k8s-cloudkms-plugin/kms/FakeKmsControl") {}

type Keys = ReadonlyMap<string, FakeCryptoKey>

const make = Effect.gen(function* () {
  const config = yield* PluginConfig
  const file = config.fakeKeyFile
  const keyFileError = (error: UnusableFile) => new ConfigError({ problems: [{ flag: "fake-key-file", message: error.message }] })
  const loaded = file === undefined ? [] : yield* Effect.mapError(loadFakeKeys(file), keyFileError)
  const configured = [config.keyUri, ...config.decryptKeyUris]
  const initial = new Map(loaded.map((key) => [key.name, key]))
  for (const name of configured) if (!initial.has(name)) initial.set(name, newCryptoKey(name))
  const save = (keys: Keys): Effect.Effect<void, UnusableFile> => (file === undefined ? Effect.void : saveFakeKeys(file, keys.values()))
  yield* Effect.mapError(save(initial), keyFileError)
  // Immutable key values; a change is saved first and only then set, so what
  // Status and Encrypt use is always on disk (a version lost at restart would
  // strand the data wrapped with it, and its number would be reused).
  const keys = yield* SynchronizedRef.make<Keys>(initial)
  yield* Effect.logWarning(
    "FAKE KMS BACKEND: keys live in this process" +
      (file === undefined ? " and die with it" : ` and in ${file}`) +
      "; for development and tests only, never for a real cluster"
  )

  const primaryKey = (current: Keys) => current.get(config.keyUri) ?? newCryptoKey(config.keyUri)
  const configuredKey = (current: Keys, name: string | undefined): FakeCryptoKey | undefined =>
    configured.includes(name ?? config.keyUri) ? current.get(name ?? config.keyUri) : undefined

  const status = Effect.map(SynchronizedRef.get(keys), (current): KeyStatus => {
    const key = primaryKey(current)
    const primary = key.versions.get(key.primary)
    const name = keyVersionName({ cryptoKey: key.name, version: key.primary })
    return primary?.state === "ENABLED"
      ? { keyVersion: name, problem: undefined }
      : { keyVersion: name, problem: `primary version ${name} is ${primary?.state ?? "missing"}` }
  })

  // Mimics a remote KMS's latency when asked (--fake-latency).
  const remote = <A, E>(effect: Effect.Effect<A, E>): Effect.Effect<A, E> =>
    config.fakeLatencyMillis === 0 ? effect : Effect.andThen(Effect.sleep(config.fakeLatencyMillis), effect)

  // Named as CloudKms's methods are: a span only with a tracing backend (Operations.ts).
  const named = yield* operationNamer
  const encrypt: KeyManagementShape["encrypt"] = (plaintext) =>
    remote(
      Effect.flatMap(SynchronizedRef.get(keys), (current) => {
        const sealed = sealWithPrimary(primaryKey(current), plaintext)
        return Result.isSuccess(sealed)
          ? Effect.succeed({ ciphertext: sealed.success.ciphertext, keyVersion: keyVersionName(sealed.success.keyVersion) })
          : Effect.fail(sealed.failure)
      })
    ).pipe(named("FakeKms.encrypt"))

  const decrypt: KeyManagementShape["decrypt"] = (ciphertext, keyVersion) =>
    remote(
      Effect.flatMap(SynchronizedRef.get(keys), (current): Effect.Effect<Uint8Array, KmsError> => {
        if (keyVersion !== undefined) {
          const key = configuredKey(current, keyVersion.cryptoKey)
          if (key === undefined) return Effect.fail(new UnknownKey({ message: `${keyVersion.cryptoKey} is not a configured key` }))
          const opened = open(key, ciphertext, keyVersion.version)
          return Result.isSuccess(opened) ? Effect.succeed(opened.success) : Effect.fail(opened.failure)
        }
        // v1beta1 carries no key_id: the first configured key that opens it wins.
        let unusable: KeyUnusable | undefined
        for (const name of configured) {
          const key = current.get(name)
          if (key === undefined) continue
          const opened = open(key, ciphertext, undefined)
          if (Result.isSuccess(opened)) return Effect.succeed(opened.success)
          if (opened.failure._tag === "KeyUnusable") unusable ??= opened.failure
        }
        return Effect.fail(
          unusable ?? new InvalidCiphertext({ message: `no configured key (${configured.join(", ")}) opens this ciphertext` })
        )
      })
    ).pipe(named("FakeKms.decrypt"))

  /** Saves the changed key, then sets it; if the save fails nothing changes, and the failure is logged. */
  const change = <A>(
    what: string,
    cryptoKey: string | undefined,
    f: (key: FakeCryptoKey) => Effect.Effect<readonly [A, FakeCryptoKey]>
  ): Effect.Effect<A, KeysNotSaved> =>
    SynchronizedRef.modifyEffect(keys, (current) => {
      const name = cryptoKey ?? config.keyUri
      const key = current.get(name)
      if (key === undefined) return Effect.die(new Error(`fake kms: no key ${cryptoKey}`))
      return Effect.flatMap(f(key), ([result, changed]) => {
        const next: Keys = new Map(current).set(name, changed)
        return save(next).pipe(
          Effect.mapError((error) => new KeysNotSaved({ message: `${what} of ${name} not made: ${error.message}` })),
          Effect.tapError((error) => Effect.logError(`fake kms: ${error.message}`)),
          Effect.as([result, next] as const)
        )
      })
    })
  const noVersion = (key: FakeCryptoKey, version: number) => Effect.die(new Error(`fake kms: ${key.name} has no version ${version}`))

  const control: FakeKmsControlShape = {
    rotate: (cryptoKey) =>
      change("rotation", cryptoKey, (key) => {
        const next = rotated(key)
        return Effect.succeed([next.primary, next] as const)
      }),
    setVersionState: (version, state, cryptoKey) =>
      change(`setting version ${version} ${state}`, cryptoKey, (key) => {
        const next = withVersionState(key, version, state)
        return next === undefined ? noVersion(key, version) : Effect.succeed([undefined, next] as const)
      }),
    setPrimary: (version, cryptoKey) =>
      change(`making version ${version} primary`, cryptoKey, (key) => {
        const next = withPrimary(key, version)
        return next === undefined ? noVersion(key, version) : Effect.succeed([undefined, next] as const)
      })
  }
  const kms = KeyManagement.of({ status, encrypt, decrypt, missingPermissions: Effect.succeed([]) })
  // Development only: rotate the key from outside (there is no such thing with Cloud KMS).
  const rotateRoute: BackendRoute = {
    method: "POST",
    path: "/fake/rotate",
    handle: control.rotate().pipe(
      Effect.map((version) => ({ status: 200, body: `${config.keyUri}/cryptoKeyVersions/${version}\n` })),
      // Already logged; the caller learns that nothing changed.
      Effect.catchTag("KeysNotSaved", (error) => Effect.succeed({ status: 500, body: `${error.message}\n` }))
    )
  }
  return { kms, control: FakeKmsControl.of(control), routes: [rotateRoute] }
})

/**
 * The fake backend, its control and its /fake/rotate route, built together so
 * they share the keys.
 */
export const layer: Layer.Layer<KeyManagement | FakeKmsControl, ConfigError, PluginConfig> = Layer.effectContext(
  Effect.map(make, ({ control, kms, routes }) =>
    Context.make(KeyManagement, kms).pipe(Context.add(FakeKmsControl, control), Context.add(BackendRoutes, routes))
  )
)
