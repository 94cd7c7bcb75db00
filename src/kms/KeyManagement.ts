import * as Context from "effect/Context"
import type * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type { KeyVersion } from "../config/KeyNames.ts"
import type { KmsError } from "./KmsErrors.ts"

/** What Status reports: the key version new data is wrapped with, and health. */
export interface KeyStatus {
  /** Resource name of the current crypto key version; undefined until first learned. */
  readonly keyVersion: string | undefined
  /** Why the backend is not healthy; undefined when it is. */
  readonly problem: string | undefined
}

export interface Encrypted {
  readonly ciphertext: Uint8Array
  /** Resource name of the crypto key version that wrapped it. */
  readonly keyVersion: string
}

/** Per-call limits, from the incoming gRPC call. */
export interface CallLimits {
  /** Absolute deadline of the caller on Effect's Clock (ms since epoch), if it set one. */
  readonly deadline: number | undefined
}

/**
 * The port: wraps and unwraps data keys with a key the cluster never sees.
 * Implemented by CloudKms (Google Cloud KMS) and FakeKms (in-process).
 */
export interface KeyManagementShape {
  /** Answered from memory: no remote call. */
  readonly status: Effect.Effect<KeyStatus>
  /** Wraps with exactly the version that `status` reports. */
  readonly encrypt: (plaintext: Uint8Array, limits: CallLimits) => Effect.Effect<Encrypted, KmsError>
  /**
   * Unwraps. `keyVersion` is what the v2 key_id names (already checked to be a
   * configured key); v1beta1 has none and tries every configured key.
   */
  readonly decrypt: (ciphertext: Uint8Array, keyVersion: KeyVersion | undefined, limits: CallLimits) => Effect.Effect<Uint8Array, KmsError>
  /**
   * The permissions the plugin needs on its keys but lacks, as
   * "permission on key" (empty when all are granted, or when the KMS has no
   * way to tell, such as an endpoint without TestIamPermissions). Asks the
   * KMS: callers cache it.
   */
  readonly missingPermissions: Effect.Effect<ReadonlyArray<string>, KmsError>
}

/**
 * The port. Its implementations are layers of their own modules, as
 * NodeHttpServer.layer provides HttpServer: CloudKms.layer and FakeKms.layer.
 */
export class KeyManagement extends Context.Service<KeyManagement, KeyManagementShape>()("k8s-cloudkms-plugin/kms/KeyManagement") {
  /** A test double: what is not given fails with a defect when used. */
  static readonly layerTest = (kms: Layer.PartialEffectful<KeyManagementShape>): Layer.Layer<KeyManagement> =>
    Layer.mock(KeyManagement)(kms)
}

/**
 * An HTTP route a backend adds to the health server (the fake backend's
 * POST /fake/rotate), so the server never needs to know the backend. Plain
 * data: no HTTP library types cross the port.
 */
export interface BackendRoute {
  readonly method: "GET" | "POST"
  /** e.g. /fake/rotate */
  readonly path: `/${string}`
  readonly handle: Effect.Effect<{ readonly status: number; readonly body: string }>
}

/** The routes the chosen backend contributes: none unless it provides some. */
export const BackendRoutes = Context.Reference<ReadonlyArray<BackendRoute>>("k8s-cloudkms-plugin/kms/BackendRoutes", {
  defaultValue: () => []
})
