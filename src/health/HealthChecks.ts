import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import { type CallFailed, makePluginClient, type PluginClient } from "../client/PluginClient.ts"
import { roundTrip } from "../client/roundTrip.ts"
import { PluginConfig, type PluginConfigShape } from "../config/PluginConfig.ts"
import { GrpcServer } from "../grpc/GrpcServer.ts"
import { KeyManagement } from "../kms/KeyManagement.ts"

// What the probes ask. Every check but readiness goes through the plugin's
// own socket, as the apiserver would. Liveness never depends on Cloud KMS: a
// kubelet must not restart the plugin for a remote problem.

export type CheckOutcome = { readonly ok: true } | { readonly ok: false; readonly reason: string }

const ok: CheckOutcome = { ok: true }
/** IAM grants change rarely; a missing one is re-checked sooner. */
const permissionsCacheMillis = 60_000
const failedPermissionsCacheMillis = 5_000
const failed = (reason: string): CheckOutcome => ({ ok: false, reason })

export interface HealthChecksShape {
  /** The process and its socket answer (Status and/or Version, whatever KMS health says). */
  readonly livez: Effect.Effect<CheckOutcome>
  /** Status healthz is ok and/or Version is v1beta1; with pingKms, a cached KMS round trip too. */
  readonly healthz: (pingKms: boolean) => Effect.Effect<CheckOutcome>
  /** The KMS key is reachable (the last remote check succeeded) and the credentials hold every permission needed. */
  readonly readyz: Effect.Effect<CheckOutcome>
}

const reasonOf = (error: CallFailed | string): string => (typeof error === "string" ? error : error.message)

const socketAnswers = (client: PluginClient, config: PluginConfigShape, strict: boolean): Effect.Effect<void, CallFailed | string> =>
  Effect.gen(function* () {
    if (config.kmsApi !== "v1") {
      const status = yield* client.v2Status
      if (strict && status.healthz !== "ok") return yield* Effect.fail(`v2 Status healthz: ${status.healthz}`)
      if (strict && status.keyId === "") return yield* Effect.fail("v2 Status has no key_id")
    }
    if (config.kmsApi !== "v2") {
      const version = yield* client.v1Version
      if (version.version !== "v1beta1") return yield* Effect.fail(`v1beta1 Version answered ${JSON.stringify(version.version)}`)
    }
  })

const outcome = (check: Effect.Effect<void, CallFailed | string>): Effect.Effect<CheckOutcome> =>
  check.pipe(
    Effect.as(ok),
    Effect.catch((error) => Effect.succeed(failed(reasonOf(error))))
  )

const make = Effect.gen(function* () {
  const config = yield* PluginConfig
  const kms = yield* KeyManagement
  const { target } = yield* GrpcServer
  // A fresh connection per check: the question is whether the socket takes
  // connections now (as the apiserver's would), not whether an old one lives.
  const throughSocket = (check: (client: PluginClient) => Effect.Effect<void, CallFailed | string>) =>
    Effect.scoped(Effect.flatMap(makePluginClient(target, { timeoutMillis: config.healthzTimeoutMillis }), check))

  // The round trip costs two KMS calls and the permission check one per key:
  // results are reused for a while, and concurrent probes share one check.
  const cachedRoundTrip = yield* Effect.cachedWithTTL(
    outcome(
      throughSocket((client) => roundTrip(client, config.kmsApi === "v1" ? "v1beta1" : "v2", "healthz-ping-kms").pipe(Effect.asVoid))
    ),
    Duration.millis(config.healthzKmsCacheMillis)
  )
  const cachedPermissions = yield* Effect.cachedWithTTL(
    kms.missingPermissions.pipe(
      Effect.map((missing) =>
        missing.length === 0 ? ok : failed(`missing ${missing.join(", ")}; grant roles/cloudkms.cryptoKeyEncrypterDecrypter`)
      ),
      Effect.catch((error) => Effect.succeed(failed(`cannot check permissions: ${error.message}`)))
    ),
    (exit) => (Exit.isSuccess(exit) && exit.value.ok ? permissionsCacheMillis : failedPermissionsCacheMillis)
  )

  return HealthChecks.of({
    livez: outcome(throughSocket((client) => socketAnswers(client, config, false))),
    healthz: (pingKms) =>
      Effect.flatMap(outcome(throughSocket((client) => socketAnswers(client, config, true))), (socket) =>
        socket.ok && pingKms ? cachedRoundTrip : Effect.succeed(socket)
      ),
    readyz: Effect.flatMap(kms.status, (status) =>
      status.problem === undefined && status.keyVersion !== undefined
        ? cachedPermissions
        : Effect.succeed(failed(status.problem ?? "no key version learned from the KMS yet"))
    )
  })
})

export class HealthChecks extends Context.Service<HealthChecks, HealthChecksShape>()("k8s-cloudkms-plugin/health/HealthChecks") {
  static readonly layer = Layer.effect(HealthChecks, make)
}
