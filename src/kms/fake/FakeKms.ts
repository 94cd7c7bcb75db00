import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Result from "effect/Result"
import { ConfigError } from "../../config/ConfigError.ts"
import { PluginConfig } from "../../config/PluginConfig.ts"
import { keyVersionName } from "../../config/KeyNames.ts"
import { type BackendRoute, BackendRoutes, KeyManagement, type KeyManagementShape, type KeyStatus } from "../KeyManagement.ts"
import { InvalidCiphertext, type KeyUnusable, type KmsError, UnknownKey } from "../KmsErrors.ts"
import { loadFakeKeys, saveFakeKeys } from "./FakeKeyFile.ts"
import { type FakeCryptoKey, newCryptoKey, open, rotate, sealWithPrimary, type VersionState } from "./FakeKeyRing.ts"

/** Key operations of the fake backend, for tests and development. */
export interface FakeKmsControlShape {
  /** Adds a version to the crypto key (default: --key-uri) and makes it primary. */
  readonly rotate: (cryptoKey?: string) => Effect.Effect<number>
  readonly setVersionState: (version: number, state: VersionState, cryptoKey?: string) => Effect.Effect<void>
  readonly setPrimary: (version: number, cryptoKey?: string) => Effect.Effect<void>
}

export class FakeKmsControl extends Context.Service<FakeKmsControl, FakeKmsControlShape>()(
  "k8s-cloudkms-plugin/kms/FakeKmsControl"
) {}

const make = Effect.gen(function*() {
  const config = yield* PluginConfig
  const file = config.fakeKeyFile
  const keys = new Map<string, FakeCryptoKey>()
  if (file !== undefined) {
    const loaded = loadFakeKeys(file)
    if (Result.isFailure(loaded)) {
      return yield* new ConfigError({ problems: [{ flag: "fake-key-file", message: loaded.failure }] })
    }
    for (const key of loaded.success) keys.set(key.name, key)
  }
  const configured = [config.keyUri, ...config.decryptKeyUris]
  for (const name of configured) if (!keys.has(name)) keys.set(name, newCryptoKey(name))
  const persist = () => {
    if (file !== undefined) saveFakeKeys(file, keys.values())
  }
  yield* Effect.try({
    try: persist,
    catch: (error) =>
      new ConfigError({ problems: [{ flag: "fake-key-file", message: `cannot write: ${String(error)}` }] })
  })
  yield* Effect.logWarning(
    "FAKE KMS BACKEND: keys live in this process" + (file === undefined ? " and die with it" : ` and in ${file}`) +
      "; for development and tests only, never for a real cluster"
  )

  const primaryKey = () => keys.get(config.keyUri) ?? newCryptoKey(config.keyUri)
  const configuredKey = (name: string | undefined): FakeCryptoKey | undefined =>
    configured.includes(name ?? config.keyUri) ? keys.get(name ?? config.keyUri) : undefined

  const status = Effect.sync((): KeyStatus => {
    const key = primaryKey()
    const primary = key.versions.get(key.primary)
    const name = keyVersionName({ cryptoKey: key.name, version: key.primary })
    return primary?.state === "ENABLED"
      ? { keyVersion: name, problem: undefined }
      : { keyVersion: name, problem: `primary version ${name} is ${primary?.state ?? "missing"}` }
  })

  // Mimics a remote KMS's latency when asked (--fake-latency).
  const remote = <A, E>(effect: Effect.Effect<A, E>): Effect.Effect<A, E> =>
    config.fakeLatencyMillis === 0 ? effect : Effect.andThen(Effect.sleep(config.fakeLatencyMillis), effect)

  const encrypt: KeyManagementShape["encrypt"] = Effect.fn("FakeKms.encrypt")((plaintext) =>
    remote(Effect.suspend(() => {
      const sealed = sealWithPrimary(primaryKey(), plaintext)
      return Result.isSuccess(sealed)
        ? Effect.succeed({ ciphertext: sealed.success.ciphertext, keyVersion: keyVersionName(sealed.success.keyVersion) })
        : Effect.fail(sealed.failure)
    })))

  const decrypt: KeyManagementShape["decrypt"] = Effect.fn("FakeKms.decrypt")((ciphertext, keyVersion) =>
    remote(Effect.suspend((): Effect.Effect<Uint8Array, KmsError> => {
      if (keyVersion !== undefined) {
        const key = configuredKey(keyVersion.cryptoKey)
        if (key === undefined) return Effect.fail(new UnknownKey({ message: `${keyVersion.cryptoKey} is not a configured key` }))
        const opened = open(key, ciphertext, keyVersion.version)
        return Result.isSuccess(opened) ? Effect.succeed(opened.success) : Effect.fail(opened.failure)
      }
      // v1beta1 carries no key_id: the first configured key that opens it wins.
      let unusable: KeyUnusable | undefined
      for (const name of configured) {
        const key = keys.get(name)
        if (key === undefined) continue
        const opened = open(key, ciphertext, undefined)
        if (Result.isSuccess(opened)) return Effect.succeed(opened.success)
        if (opened.failure._tag === "KeyUnusable") unusable ??= opened.failure
      }
      return Effect.fail(
        unusable ?? new InvalidCiphertext({ message: `no configured key (${configured.join(", ")}) opens this ciphertext` })
      )
    })))

  const changed = <A>(f: (key: FakeCryptoKey) => A) => (cryptoKey?: string) =>
    Effect.sync(() => {
      const key = keys.get(cryptoKey ?? config.keyUri)
      if (key === undefined) throw new Error(`fake kms: no key ${cryptoKey}`)
      const result = f(key)
      persist()
      return result
    })

  const control: FakeKmsControlShape = {
    rotate: (cryptoKey) => changed(rotate)(cryptoKey),
    setVersionState: (version, state, cryptoKey) =>
      changed((key) => {
        const found = key.versions.get(version)
        if (found === undefined) throw new Error(`fake kms: ${key.name} has no version ${version}`)
        found.state = state
      })(cryptoKey),
    setPrimary: (version, cryptoKey) =>
      changed((key) => {
        if (!key.versions.has(version)) throw new Error(`fake kms: ${key.name} has no version ${version}`)
        key.primary = version
      })(cryptoKey)
  }
  const kms = KeyManagement.of({ status, encrypt, decrypt, missingPermissions: Effect.succeed([]) })
  // Development only: rotate the key from outside (there is no such thing with Cloud KMS).
  const rotateRoute: BackendRoute = {
    method: "POST",
    path: "/fake/rotate",
    handle: Effect.map(control.rotate(), (version) => ({ status: 200, body: `${config.keyUri}/cryptoKeyVersions/${version}\n` }))
  }
  return { kms, control: FakeKmsControl.of(control), routes: [rotateRoute] }
})

/**
 * The fake backend, its control and its /fake/rotate route, built together so
 * they share the keys.
 */
export const layer: Layer.Layer<KeyManagement | FakeKmsControl, ConfigError, PluginConfig> = Layer.effectContext(
  Effect.map(make, ({ control, kms, routes }) =>
    Context.make(KeyManagement, kms).pipe(Context.add(FakeKmsControl, control), Context.add(BackendRoutes, routes)))
)
