import * as Deferred from "effect/Deferred"
import * as Fiber from "effect/Fiber"
import * as Effect from "effect/Effect"
import * as Metric from "effect/Metric"
import * as Result from "effect/Result"
import * as Semaphore from "effect/Semaphore"
import type * as Scope from "effect/Scope"
import type { PluginConfigShape } from "../../config/PluginConfig.ts"
import { kmsLastCheck } from "../../observability/Metrics.ts"
import type { KeyStatus } from "../KeyManagement.ts"
import { parseKeyVersionName } from "../KeyNames.ts"
import type { KmsError } from "../KmsErrors.ts"
import type { CloudKmsApi } from "./CloudKmsClient.ts"
import { IntegrityMismatch } from "./CloudKmsErrors.ts"
import { crc32cOf, verifyEncrypt } from "./Integrity.ts"
import { answerMarginFor, retryingCall } from "./RetryingCall.ts"

// Knows the crypto key version new data is wrapped with, so that Status
// answers from memory (no Cloud KMS call per poll) and Encrypt is pinned to
// exactly the version Status reported. Checked in the background every
// --key-refresh-interval, every 10 s after a failed check, and at once when
// Encrypt finds the pinned version disabled.
//
// With cloudkms.cryptoKeys.get the check is a GetCryptoKey (no crypto
// operation); with only roles/cloudkms.cryptoKeyEncrypterDecrypter it is an
// Encrypt of a fixed probe on the crypto key, whose answer names the primary.

export const retryAfterFailureMillis = 10_000
/** How long start waits for the first check before serving anyway (Status then says why it is not ready). */
export const firstCheckWaitMillis = 3_000

const probePlaintext = Buffer.from("k8s-cloudkms-plugin key version check")
const probeCrc = crc32cOf(probePlaintext)

export interface KeyVersionTracker {
  readonly status: Effect.Effect<KeyStatus>
  readonly current: () => string | undefined
  /**
   * Checks now and returns the current version; waits no later than
   * `deadline` (then returns what is known), the check itself goes on.
   */
  readonly refreshNow: (deadline: number | undefined) => Effect.Effect<string | undefined>
}

interface State {
  readonly keyVersion: string | undefined
  readonly problem: string | undefined
}

export const makeKeyVersionTracker = (
  api: CloudKmsApi,
  config: PluginConfigShape
): Effect.Effect<KeyVersionTracker, never, Scope.Scope> =>
  Effect.gen(function*() {
    const keyUri = config.keyUri
    let state: State = { keyVersion: undefined, problem: `no check of ${keyUri} has completed yet` }
    let getAllowed = true
    const limits = { deadline: undefined }

    const byGetCryptoKey: Effect.Effect<State, KmsError> = retryingCall(config.retry, limits, {
      operation: "getCryptoKey",
      resource: keyUri,
      send: (limits) => api.getCryptoKey(keyUri, limits),
      verify: (key): Result.Result<State, IntegrityMismatch> => {
        const primary = key.primary
        if (primary?.name === undefined || primary.name === null || parseKeyVersionName(primary.name)?.cryptoKey !== keyUri) {
          return key.name === keyUri
            ? Result.succeed({ keyVersion: undefined, problem: `${keyUri} has no primary version; create or restore one` })
            : Result.fail(new IntegrityMismatch({ check: `resource name (asked ${keyUri}, answered ${JSON.stringify(key.name)})` }))
        }
        const state = primary.state === undefined || primary.state === null ? "in no known state" : String(primary.state)
        return Result.succeed({
          keyVersion: primary.name,
          problem: state === "ENABLED" ? undefined : `primary version ${primary.name} is ${state}; enable it or choose another primary`
        })
      }
    })

    const byProbe: Effect.Effect<State, KmsError> = retryingCall(config.retry, limits, {
      operation: "encrypt",
      resource: keyUri,
      send: (limits) => api.encrypt({ name: keyUri, plaintext: probePlaintext, plaintextCrc32c: { value: probeCrc } }, limits),
      verify: verifyEncrypt(keyUri)
    }).pipe(Effect.map((wrapped) => ({ keyVersion: wrapped.keyVersion, problem: undefined })))

    // GetCryptoKey refused (no cloudkms.cryptoKeys.get, or an endpoint that
    // does not implement it): the Encrypt probe needs only what the plugin
    // needs anyway. Once the probe has worked, it is used from then on.
    const check: Effect.Effect<State, KmsError> = Effect.suspend(() =>
      getAllowed
        ? byGetCryptoKey.pipe(
          Effect.catch((getFailed) =>
            byProbe.pipe(
              Effect.tap(() =>
                Effect.andThen(
                  Effect.sync(() => {
                    getAllowed = false
                  }),
                  Effect.logInfo(`GetCryptoKey failed (${getFailed.message}): learning the key version with an Encrypt probe instead`)
                )
              )
            ))
        )
        : byProbe
    )

    const adopt = (next: State) =>
      Effect.gen(function*() {
        const previous = state
        state = next
        yield* Metric.update(kmsLastCheck, Date.now() / 1000)
        if (next.keyVersion !== undefined && next.keyVersion !== previous.keyVersion) {
          yield* Effect.logInfo(`new data is wrapped with ${next.keyVersion}`)
        }
        if (next.problem !== undefined && next.problem !== previous.problem) yield* Effect.logWarning(`key check: ${next.problem}`)
        if (next.problem === undefined && previous.problem !== undefined && previous.keyVersion !== undefined) {
          yield* Effect.logInfo("key check succeeded again")
        }
      })

    const lock = yield* Semaphore.make(1)
    const refresh: Effect.Effect<boolean> = lock.withPermit(
      check.pipe(
        Effect.matchEffect({
          onSuccess: (next) => Effect.as(adopt(next), next.problem === undefined),
          onFailure: (error) => Effect.as(adopt({ keyVersion: state.keyVersion, problem: error.message }), false)
        })
      )
    )

    const scope = yield* Effect.scope
    const firstCheck = yield* Deferred.make<void>()
    yield* Effect.forkScoped(
      Effect.gen(function*() {
        while (true) {
          const healthy = yield* refresh
          yield* Deferred.succeed(firstCheck, undefined)
          yield* Effect.sleep(healthy ? config.keyRefreshIntervalMillis : Math.min(retryAfterFailureMillis, config.keyRefreshIntervalMillis))
        }
      })
    )
    yield* Deferred.await(firstCheck).pipe(Effect.timeoutOption(firstCheckWaitMillis))

    return {
      status: Effect.sync(() => state),
      current: () => state.keyVersion,
      refreshNow: (deadline) =>
        Effect.gen(function*() {
          const checking = yield* Effect.forkIn(refresh, scope)
          const waitMillis = deadline === undefined ? undefined : deadline - answerMarginFor(deadline - Date.now()) - Date.now()
          yield* waitMillis === undefined ? Fiber.await(checking) : Effect.timeoutOption(Fiber.await(checking), Math.max(0, waitMillis))
          return state.keyVersion
        })
    }
  })
